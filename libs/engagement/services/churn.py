"""Fitting the churn model: the rescoring sweep's coordinator refits it when the stored one is due, before it queues
the day's segments, so the whole run scores with the new version.

The fit reads every client's order aggregates (orderCount, firstOrderDate, lastOrderDate) with one paged scan of
the users table, keeps a uniform random sample of at most max_clients of them (reservoir sampling; the model says
it was sampled and how many clients were seen), fits the configured variant and stores the result, a refusal
included (too few repeat buyers), so every function knows why it scores by the rules.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import TimeLeft, parse_instant, unlimited
from engagement.domain.churn import Summary, summary_of
from engagement.domain.churn_model import ChurnModel, FitSettings, fit_model
from engagement.observability import count, logger

HISTORY_ATTRIBUTES = ("userId", "orderCount", "firstOrderDate", "lastOrderDate")
PAGE_SIZE = 1_000
SCAN_RESERVE_S = 90.0  # stop reading clients with this much of the invocation left: the fit and the run need it
RETRY_REFUSAL_AFTER = timedelta(days=1)  # a refusal (too little data) is tried again daily, not weekly


def history_from_item(item: Mapping[str, Any], now: datetime) -> Summary | None:
    """A scanned client's (x, t_x, T) in days; None without a usable order history."""
    try:
        orders = int(item.get("orderCount") or 0)
        first, last = item.get("firstOrderDate"), item.get("lastOrderDate")
        if orders < 1 or not isinstance(first, str) or not isinstance(last, str):
            return None
        return summary_of(orders, parse_instant(first), parse_instant(last), now)
    except (ValueError, TypeError, OverflowError):
        return None  # the stream dead-lettered such an item when it was written


class ChurnFitting:
    def __init__(
        self, *, users: UserRepository, models: ChurnModelRepository, settings: FitSettings, seed: int | None = None
    ) -> None:
        self.users = users
        self.models = models
        self.settings = settings
        self.seed = seed

    def due(self, latest: ChurnModel | None, now: datetime) -> bool:
        if latest is None or latest.variant is not self.settings.variant:
            return True
        age = now - latest.fitted_at
        return age >= (
            self.settings.refit_every if latest.usable else min(RETRY_REFUSAL_AFTER, self.settings.refit_every)
        )

    def refit_if_due(self, now: datetime, time_left: TimeLeft = unlimited) -> ChurnModel | None:
        """Fit and store a new version when the latest is due; None when it is not."""
        if not self.due(self.models.newest(), now):
            return None
        return self.refit(now, time_left)

    def refit(self, now: datetime, time_left: TimeLeft = unlimited) -> ChurnModel:
        sample, seen = self._sample(self._histories(now, time_left), now)
        model = fit_model(self.settings.variant, sample, now=now, min_repeat_buyers=self.settings.min_repeat_buyers,
                          clients_seen=seen)  # fmt: skip
        self.models.save(model)
        count("ChurnModelFits" if model.usable else "ChurnModelRefusals")
        logger.info("churn model fitted" if model.usable else "churn model not fitted",
                    extra=model.model_dump(mode="json", by_alias=True, exclude_none=True))  # fmt: skip
        return model

    def _histories(self, now: datetime, time_left: TimeLeft) -> Iterator[Summary]:
        start_key = None
        while True:
            items, start_key = self.users.scan_segment(0, 1, attributes=HISTORY_ATTRIBUTES, start_key=start_key,
                                                       limit=PAGE_SIZE)  # fmt: skip
            for item in items:
                if (summary := history_from_item(item, now)) is not None:
                    yield summary
            if start_key is None:
                return
            if time_left() < SCAN_RESERVE_S:
                logger.warning("churn fit: stopped reading clients to leave time for the fit; fitting what was read")
                return

    def _sample(self, histories: Iterator[Summary], now: datetime) -> tuple[list[Summary], int]:
        """A uniform sample of at most max_clients (Algorithm R), seeded by the day: a rerun picks the same."""
        rng = random.Random(self.seed if self.seed is not None else now.date().toordinal())  # noqa: S311 - sampling
        limit, seen = self.settings.max_clients, 0
        sample: list[Summary] = []
        for seen, summary in enumerate(histories, start=1):
            if len(sample) < limit:
                sample.append(summary)
            elif (slot := rng.randrange(seen)) < limit:
                sample[slot] = summary
        return sample, seen
