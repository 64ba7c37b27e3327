"""What the functions did, counted from their invocations, and a line per batch on the console."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from localmode.pollers import BatchReport


@dataclass
class Counts:
    stream_records: int = 0
    function_errors: int = 0
    sns_calls: int = 0
    events: Counter[str] = field(default_factory=Counter)
    drafts: Counter[str] = field(default_factory=Counter)
    emails_sent: int = 0


class Activity:
    def __init__(
        self,
        *,
        emails_table: str,
        queue_names: dict[str, str],
        write: Callable[[str], None] | None,
        verbose: bool = False,
    ) -> None:
        self.emails_table = emails_table
        self.queue_names = queue_names  # url → short name
        self.write = write
        self.verbose = verbose
        self.counts = Counts()
        self.changes = 0  # grows with every batch: the drain check watches it
        self.last_change_at = 0.0  # time.monotonic() of the latest batch
        self._lock = threading.Lock()

    def on_batch(self, report: BatchReport) -> None:
        parts: list[str] = []
        with self._lock:
            counts = self.counts
            self.changes += 1
            self.last_change_at = time.monotonic()
            if report.source == "stream" and not report.note:
                counts.stream_records += report.size
            if report.invocation.failed:
                counts.function_errors += 1
            published: Counter[str] = Counter()
            drafts: Counter[str] = Counter()
            sent = 0
            for entry in report.invocation.activity:
                kind = entry.get("kind")
                if kind == "sns_call":
                    counts.sns_calls += 1
                elif kind == "published":
                    published[str(entry.get("eventType"))] += 1
                elif kind == "put_item" and entry.get("table") == self.emails_table:
                    drafts[str(entry.get("writer"))] += 1
                elif kind == "email_sent":
                    sent += 1
                elif kind == "sent_message":
                    queue = self.queue_names.get(str(entry.get("queue")), str(entry.get("queue")))
                    parts.append(f"dead-lettered to {queue}: {entry.get('reason')}")
            counts.events.update(published)
            counts.drafts.update(drafts)
            counts.emails_sent += sent
        if published:
            parts.insert(0, f"{sum(published.values())} published ({_listing(published)})")
        if drafts:
            parts.append(f"{sum(drafts.values())} drafted ({_listing(drafts)})")
        if sent:
            parts.append(f"{sent} sent through SES")
        if report.invocation.error:
            error = report.invocation.error
            parts.append(f"function error {error.get('errorType')}: {error.get('errorMessage')}")
        elif report.failed and not report.note:
            parts.append(f"{report.failed} reported for retry")
        if report.note:
            parts.append(f"gave up ({report.note}): on-failure record sent")
        if self.write is None or not (parts or self.verbose):
            return
        unit = {"stream": "record", "sqs": "message", "schedule": "due email"}[report.source]
        plural = "" if report.size == 1 else "s"
        summary = ", ".join(parts) or "nothing to publish (no fact changed)"
        self.write(f"{time.strftime('%H:%M:%S')}  {report.function:<16} {report.size} {unit}{plural} → {summary}")


def _listing(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items()))
