"""The overview's figures: clients per band and emails per status (a cached aggregate that shows its age), with
decisions per reason and conversion (counters kept as they happen, read live).

Counting clients per band means scoring every client, so the aggregate is computed at most every few minutes
(or when asked to refresh) and stored with its computedAt; every other request reads the stored one.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from engagement.api_views import conversion_view
from engagement.clock import Clock, format_instant, parse_instant
from engagement.errors import InvalidRecord
from engagement.events import client_from_item
from engagement.models import Band, DecisionReason, EmailStatus
from engagement.scoring import score_client
from engagement.store.decisions import CONVERSION_COUNTERS, DECIDED_PREFIX, DecisionRepository
from engagement.store.emails import EmailRepository
from engagement.store.users import UserRepository

SCORED_ATTRIBUTES = ("userId", "email", "lastOrderDate", "orderCount", "averageOrderValue", "createdAt",
                     "engagementScore")  # fmt: skip
UNKNOWN_BAND = "unknown"  # items that break the data contract: they cannot be scored


def clients_per_band(items: Any, now: datetime) -> dict[str, int]:
    counts: Counter[str] = Counter({band.value: 0 for band in Band} | {UNKNOWN_BAND: 0})
    for item in items:
        try:
            counts[score_client(client_from_item(item), now).band.value] += 1
        except InvalidRecord:
            counts[UNKNOWN_BAND] += 1
    return dict(counts)


class StatsService:
    def __init__(
        self,
        *,
        users: UserRepository,
        emails: EmailRepository,
        decisions: DecisionRepository,
        clock: Clock,
        max_age: timedelta = timedelta(minutes=5),
    ) -> None:
        self.users = users
        self.emails = emails
        self.decisions = decisions
        self.clock = clock
        self.max_age = max_age

    def overview(self, *, refresh: bool = False) -> dict[str, Any]:
        now = self.clock.now()
        aggregate = None if refresh else self.decisions.cached_aggregate()
        if aggregate is None or now - parse_instant(aggregate["computedAt"]) >= self.max_age:
            aggregate = self._aggregate(now)
            self.decisions.cache_aggregate(aggregate)
        counters = self.decisions.counters()
        age = (now - parse_instant(aggregate["computedAt"])).total_seconds()
        return {
            **aggregate,
            "ageSeconds": max(0, round(age)),
            "decisions": {"byReason": {r.value: counters.get(DECIDED_PREFIX + r.value, 0) for r in DecisionReason}},
            "conversion": conversion_view({name: counters.get(name, 0) for name in CONVERSION_COUNTERS}),
        }

    def _aggregate(self, now: datetime) -> dict[str, Any]:
        bands = clients_per_band(self.users.every_item(SCORED_ATTRIBUTES), now)
        statuses = {status.value: self.emails.count_in_status(status) for status in EmailStatus}
        return {
            "computedAt": format_instant(now),
            "clients": {"total": sum(bands.values()), "byBand": bands},
            "emails": {"total": sum(statuses.values()), "byStatus": statuses},
        }
