"""The overview's figures: clients per band and emails per status (a cached aggregate that shows its age), with
decisions per reason and conversion (counters kept as they happen, read live).

Counting clients per band means scoring every client, so the aggregate is computed at most every few minutes
(or when asked to refresh) and stored with its computedAt; every other request reads the stored one. One recount
runs at a time: it holds a lease on the stats item, and a request that finds it held serves the stored aggregate,
marked stale (or, with none stored yet, asks to be retried). A count that would outlast the request (a very large
client base) is abandoned: the stored aggregate is served, marked stale.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.decisions import CONVERSION_COUNTERS, DECIDED_PREFIX, DecisionRepository
from engagement.adapters.store.emails import EmailRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock, TimeLeft, format_instant, parse_instant, unlimited
from engagement.domain.churn_model import ChurnModel
from engagement.domain.conversion_rates import conversion_rates
from engagement.domain.events import client_from_item
from engagement.domain.models import Band, DecisionReason, EmailStatus
from engagement.domain.scoring import score_client
from engagement.errors import InvalidRecord, TransientFailure
from engagement.observability import logger

SCORED_ATTRIBUTES = ("userId", "email", "firstOrderDate", "lastOrderDate", "orderCount", "averageOrderValue",
                     "createdAt", "engagementScore")  # fmt: skip
P_ALIVE_BUCKETS = tuple(f"{low}-{low + 10}" for low in range(0, 100, 10))  # P(alive) in %: [0, 10) ... [90, 100]
UNKNOWN_BAND = "unknown"  # items that break the data contract: they cannot be scored


RESERVE_S = 2.0  # stop counting with this much of the request left
MAX_LEASE_S = 900.0  # a recount's lease runs out after the request could have (Lambda's longest timeout)
CHECK_EVERY = 500  # items between looks at the clock


class OutOfTime(Exception):
    """The count would outlast the request."""


def count_clients(
    items: Any, now: datetime, model: ChurnModel | None = None, time_left: TimeLeft = unlimited
) -> tuple[dict[str, int], dict[str, Any]]:
    """Clients per band; and, of those the churn model judged, how many per P(alive) bucket and how many are
    overdue against their own rhythm."""
    counts: Counter[str] = Counter({band.value: 0 for band in Band} | {UNKNOWN_BAND: 0})
    alive: Counter[str] = Counter({bucket: 0 for bucket in P_ALIVE_BUCKETS})
    overdue = 0
    for seen, item in enumerate(items, start=1):
        if seen % CHECK_EVERY == 0 and time_left() < RESERVE_S:
            raise OutOfTime
        try:
            score = score_client(client_from_item(item), now, model)
        except InvalidRecord:
            counts[UNKNOWN_BAND] += 1
            continue
        counts[score.band.value] += 1
        if score.rhythm is not None:
            alive[P_ALIVE_BUCKETS[min(9, int(score.rhythm.p_alive * 10))]] += 1
            overdue += score.rhythm.overdue
    judged = sum(alive.values())
    return dict(counts), {"judged": judged, "overdue": overdue, "pAlive": dict(alive)}


def model_view(model: ChurnModel | None) -> dict[str, Any]:
    """The churn model in use, or why there is none."""
    if model is None:
        return {"status": "none", "reason": "no churn model fitted yet: the rule score is in use"}
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class StatsService:
    def __init__(
        self,
        *,
        users: UserRepository,
        emails: EmailRepository,
        decisions: DecisionRepository,
        clock: Clock,
        models: ChurnModelRepository,
        max_age: timedelta = timedelta(minutes=5),
    ) -> None:
        self.users = users
        self.models = models
        self.emails = emails
        self.decisions = decisions
        self.clock = clock
        self.max_age = max_age

    def overview(self, *, refresh: bool = False, time_left: TimeLeft = unlimited) -> dict[str, Any]:
        now = self.clock.now()
        cached = self.decisions.cached_aggregate()
        aggregate, stale = cached, False
        if refresh or cached is None or now - parse_instant(cached["computedAt"]) >= self.max_age:
            holder = uuid.uuid4().hex
            lease_for = timedelta(seconds=min(time_left(), MAX_LEASE_S))
            if not self.decisions.take_recount_lease(holder, now, now + lease_for):
                if cached is None:
                    raise TransientFailure("the clients are being counted by another request; try again shortly")
                logger.info("stats recount already running: the stored figures are served")
                return self._view(cached, now, stale=True)
            try:
                aggregate = self._aggregate(now, time_left)
                self.decisions.cache_aggregate(aggregate)
            except OutOfTime:
                if cached is None:
                    raise TransientFailure("counting the clients takes longer than one request") from None
                logger.warning("stats refresh abandoned: too many clients for one request")
                stale = True
            finally:
                self.decisions.release_recount_lease(holder, self.clock.now())
        assert aggregate is not None
        return self._view(aggregate, now, stale=stale)

    def _view(self, aggregate: dict[str, Any], now: datetime, *, stale: bool) -> dict[str, Any]:
        counters = self.decisions.counters()
        age = (now - parse_instant(aggregate["computedAt"])).total_seconds()
        return {
            **aggregate,
            "ageSeconds": max(0, round(age)),
            "stale": stale,
            "decisions": {"byReason": {r.value: counters.get(DECIDED_PREFIX + r.value, 0) for r in DecisionReason}},
            "conversion": conversion_rates({name: counters.get(name, 0) for name in CONVERSION_COUNTERS}),
        }

    def _aggregate(self, now: datetime, time_left: Callable[[], float]) -> dict[str, Any]:
        model = self.models.latest()
        bands, churn = count_clients(self.users.every_item(SCORED_ATTRIBUTES), now, model, time_left)
        statuses = {status.value: self.emails.count_in_status(status) for status in EmailStatus}
        return {
            "computedAt": format_instant(now),
            "clients": {"total": sum(bands.values()), "byBand": bands},
            "churn": {**churn, "model": model_view(model)},
            "emails": {"total": sum(statuses.values()), "byStatus": statuses},
        }
