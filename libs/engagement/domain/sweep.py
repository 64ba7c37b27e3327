"""The rescoring sweep's rules, without I/O: the tasks a day's run is split into, and what to do for one client.

See services/rescore.py for the sweep itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, ValidationError

from engagement.clock import format_instant
from engagement.domain.models import CamelModel, Client, EngagementEvent, EventType, Instant, Score
from engagement.errors import InvalidRecord, validation_problems

NO_ORDER = "never"  # the lapse of a client who has not ordered yet


@dataclass(frozen=True)
class RescoreRules:
    cooldown: timedelta
    max_attempts: int = 3


class SegmentTask(CamelModel):
    """One segment of one day's sweep, from where its scan stands (start_key: DynamoDB's LastEvaluatedKey)."""

    run_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    now: Instant
    segment: int = Field(ge=0)
    total_segments: int = Field(ge=1, le=1_000_000)
    start_key: dict[str, Any] | None = None
    model_version: str | None = None  # the churn model the run scores with (the coordinator may just have fitted it)

    def continued(self, start_key: dict[str, Any]) -> SegmentTask:
        return self.model_copy(update={"start_key": start_key})


def decode_task(body: str) -> SegmentTask:
    try:
        task = SegmentTask.model_validate_json(body)
    except ValidationError as invalid:
        where, message = validation_problems(invalid, where="body")[0]
        raise InvalidRecord(f"not a rescore segment task: {where}: {message}", where) from invalid
    if task.segment >= task.total_segments:
        raise InvalidRecord(f"segment {task.segment} of {task.total_segments} does not exist", "segment")
    return task


def plan_run(now: datetime, total_segments: int, model_version: str | None = None) -> list[SegmentTask]:
    """One day's run: a task per segment, every one scoring as of the same instant with the same churn model."""
    run_date = now.date().isoformat()
    return [SegmentTask(run_date=run_date, now=now, segment=segment, total_segments=total_segments,
                        model_version=model_version) for segment in range(total_segments)]  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    reason: str  # band_changed | cooldown_over
    attempts: int
    lapse: str
    publish: bool = True  # False: only store the new band (a risk band reached with the lapse's attempts spent)


def assess(client: Client, score: Score, now: datetime, run_date: str, rules: RescoreRules) -> Verdict | None:
    """What the sweep does for one client: publish (why, and the lapse's attempts after it), or nothing."""
    if client.rescored_on == run_date:
        return None  # published already today
    lapse = format_instant(client.last_order_date) if client.last_order_date else NO_ORDER
    attempts = client.winback_attempts if client.winback_lapse == lapse else _opening_attempts(client)
    if client.band is not score.band:
        if not score.band.is_at_risk:
            return Verdict("band_changed", attempts, lapse)
        return Verdict("band_changed", attempts + 1, lapse, publish=attempts < rules.max_attempts)
    if not score.band.is_at_risk or client.opted_out or client.suppressed or client.last_email_date is None:
        return None
    if now - client.last_email_date < rules.cooldown or attempts >= rules.max_attempts:
        return None
    return Verdict("cooldown_over", attempts + 1, lapse)


def _opening_attempts(client: Client) -> int:
    """A lapse the sweep has not counted yet: the email the stream's event brought, if one came after the order."""
    emailed = client.last_email_date
    return int(emailed is not None and (client.last_order_date is None or emailed > client.last_order_date))


def rescored_event(client: Client, score: Score, run_date: str, now: datetime) -> EngagementEvent:
    """The stream's event, with an id that one day's sweep always gives this client."""
    return EngagementEvent(id=f"rescore-{run_date}-{client.user_id}", type=EventType.CLIENT_RESCORED,
                           occurred_at=now, client=client, score=score)  # fmt: skip
