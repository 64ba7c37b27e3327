"""The daily rescoring sweep: clients drift away with time, not only with writes.

A client who stops ordering writes nothing, so the stream never sees them go stale. Once a day the coordinator
splits the users table into TotalSegments parallel-scan segments and queues one task per segment; each task scans
its segment a page at a time (projection: only what scoring and the decision need), scores every client as of the
run's instant, and publishes the stream's own event (client.rescored) for:

- every client whose band changed since it was last stored (then stores the new computed score and band, never
  engagementScore; those attributes are not facts, so the write makes no event); a change into a risk band once
  the lapse's attempts are spent is stored and not published;
- an at-risk client emailed before, whose cooldown has passed: another win-back attempt, up to max_attempts per
  lapse (a lapse begins with the client's last order; a new order begins a new one, and the email that opened the
  lapse counts as its first attempt).

Idempotent per day: a published client is marked with the run's date and skipped by any later run that day, and
the event's id is derived from the run's date and the client, so a task retried after publishing makes the same
event (the email processor's email id comes from it: no second email). A task running out of time queues its
own continuation with the scan's LastEvaluatedKey (the checkpoint) and ends successfully.

Before it queues the run, the coordinator refits the churn model when the stored one is due (services/churn.py);
the tasks name the version, so every segment scores with it. A failed fit is logged and the run goes on with the
version before it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engagement.adapters.messaging import EventPublisher
from engagement.adapters.segment_queue import SegmentQueue
from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock, TimeLeft, format_instant, unlimited
from engagement.domain.churn_model import ChurnModel
from engagement.domain.events import client_from_item
from engagement.domain.models import Client, Score
from engagement.domain.scoring import score_client
from engagement.domain.sweep import RescoreRules, SegmentTask, Verdict, assess, plan_run, rescored_event
from engagement.errors import InvalidRecord, TransientFailure
from engagement.observability import count, logger
from engagement.services.churn import ChurnFitting
from engagement.services.co_purchases import CoPurchaseBuilding

# What scoring, the decision and the event need; nothing else is read.
RESCORE_ATTRIBUTES = (
    "userId", "email", "name", "firstOrderDate", "lastOrderDate", "orderCount", "averageOrderValue",
    "preferredCategories", "createdAt", "engagementScore", "optedOut", "suppressed", "timezone", "lastEmailDate",
    "computedScore", "band", "winbackLapse", "winbackAttempts", "rescoredOn",
)  # fmt: skip
CHECKPOINT_RESERVE_S = 10.0  # stop a segment with this much of the invocation left, and queue the rest...
SLOWEST_PAGES_RESERVED = 2  # ...plus time for this many of its slowest pages so far: the next one must fit


@dataclass
class SegmentReport:
    scanned: int = 0
    published: Counter[str] = field(default_factory=Counter)
    unscorable: int = 0
    checkpointed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "published": dict(self.published), "unscorable": self.unscorable,
                "checkpointed": self.checkpointed}  # fmt: skip


class RescoreSweep:
    def __init__(
        self,
        *,
        users: UserRepository,
        publisher: EventPublisher,
        tasks: SegmentQueue,
        rules: RescoreRules,
        clock: Clock,
        total_segments: int,
        models: ChurnModelRepository,
        fitting: ChurnFitting | None = None,
        co_purchases: CoPurchaseBuilding | None = None,
        page_size: int = 500,
    ) -> None:
        self.users = users
        self.co_purchases = co_purchases
        self.models = models
        self.fitting = fitting
        self.publisher = publisher
        self.tasks = tasks
        self.rules = rules
        self.clock = clock
        self.total_segments = total_segments
        self.page_size = page_size

    def start(self, time_left: TimeLeft = unlimited) -> dict[str, Any]:
        """The coordinator: the churn model refitted if due, then one task per segment, all scoring as of this
        instant with the same model. Nothing is queued while an earlier run's tasks are still pending: two runs at
        once would scan every client twice."""
        now = self.clock.now()
        pending = self.tasks.pending()
        if pending:
            logger.warning("rescore not started: the last run is still going", extra={"pendingTasks": pending})
            count("RescoreRunsSkipped")
            return {"started": False, "now": format_instant(now), "pendingTasks": pending}
        model = self._refit_if_due(now, time_left)
        co_purchases = self._rebuild_co_purchases(now, time_left)
        tasks = plan_run(now, self.total_segments, model.version if model else None)
        self.tasks.send(tasks)
        logger.info("rescore started", extra={"runDate": tasks[0].run_date, "segments": self.total_segments,
                                              "churnModel": tasks[0].model_version})  # fmt: skip
        return {
            "started": True,
            "runDate": tasks[0].run_date,
            "now": format_instant(now),
            "segments": self.total_segments,
            "churnModel": _described(model),
            "coPurchases": co_purchases,
        }

    def _rebuild_co_purchases(self, now: datetime, time_left: TimeLeft) -> dict[str, Any] | None:
        """The co-purchase counts rebuilt from the orders when due (what was built, or None); a failed build leaves
        the last one: the sweep runs whatever it does."""
        if self.co_purchases is None:
            return None
        try:
            build = self.co_purchases.rebuild_if_due(now, time_left)
        except Exception:
            logger.exception("co-purchase counts not rebuilt; emails use the last ones")
            count("CoPurchaseBuildsFailed")
            return None
        return None if build is None else build.model_dump(mode="json", by_alias=True, exclude={"popular"})

    def _refit_if_due(self, now: datetime, time_left: TimeLeft) -> ChurnModel | None:
        """The model this run scores with: refitted first when due. A fit that fails leaves the last version."""
        if self.fitting is not None:
            try:
                self.fitting.refit_if_due(now, time_left)
            except Exception:  # the sweep must run whatever the fit does
                logger.exception("churn model fit failed; the run scores with the version before it")
                count("ChurnModelFitsFailed")
        return self.models.latest()

    def run_segment(self, task: SegmentTask, time_left: TimeLeft = unlimited) -> SegmentReport:
        """Scan and rescore the task's segment a page at a time. When the next page might not finish in the time
        left (a slow page on a busy table included), queue the rest as a continuation and stop: an invocation that
        timed out instead would be retried from its task's start, beside its own continuation."""
        report = SegmentReport()
        model = self.models.latest(at_least=task.model_version)
        start_key = task.start_key
        left, slowest_page = time_left(), 0.0
        while True:
            items, start_key = self.users.scan_segment(
                task.segment, task.total_segments, attributes=RESCORE_ATTRIBUTES, start_key=start_key,
                limit=self.page_size,
            )  # fmt: skip
            self._rescore(items, task, model, report)
            if start_key is None:
                break
            now_left = time_left()
            if math.isfinite(left):
                slowest_page = max(slowest_page, left - now_left)
            left = now_left
            if left < CHECKPOINT_RESERVE_S + SLOWEST_PAGES_RESERVED * slowest_page:
                self.tasks.send([task.continued(start_key)])
                report.checkpointed = True
                count("RescoreCheckpoints")
                break
        count("ClientsRescored", report.scanned)
        logger.info("rescore segment done", extra={"runDate": task.run_date, "segment": task.segment,
                                                   **report.as_dict()})  # fmt: skip
        return report

    def _rescore(
        self, items: Sequence[Mapping[str, Any]], task: SegmentTask, model: ChurnModel | None, report: SegmentReport
    ) -> None:
        due: list[tuple[Client, Score, Verdict]] = []
        for item in items:
            report.scanned += 1
            try:
                client = client_from_item(item)
            except InvalidRecord:
                report.unscorable += 1  # the stream dead-lettered it when it was written; nothing to add here
                continue
            score = score_client(client, task.now, model)
            verdict = assess(client, score, task.now, task.run_date, self.rules)
            if verdict is not None:
                due.append((client, score, verdict))
        if not due:
            return
        events = [rescored_event(client, score, task.run_date, task.now) for client, score, verdict in due
                  if verdict.publish]  # fmt: skip
        failures = {failure.index: failure for failure in self.publisher.publish(events)} if events else {}
        if failures:  # the task is retried: clients published already get the same event ids again
            first = next(iter(failures.values()))
            raise TransientFailure(f"{len(failures)} rescore events not published: {first.code}: {first.message}")
        for client, score, verdict in due:
            self.users.record_rescore(client.user_id, computed_score=score.computed_value, band=score.band,
                                      scored_at=task.now, run_date=task.run_date, lapse=verdict.lapse,
                                      attempts=min(verdict.attempts, self.rules.max_attempts))  # fmt: skip
            if verdict.publish:
                report.published[verdict.reason] += 1
        count("RescoreEventsPublished", len(events))


def _described(model: ChurnModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    described = {"version": model.version, "status": model.status, "variant": model.variant.value,
                 "clients": model.clients, "repeatBuyers": model.repeat_buyers, "reason": model.reason}  # fmt: skip
    return {name: value for name, value in described.items() if value is not None}
