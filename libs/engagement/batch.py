"""SQS batches at the edge: each body decoded before any service sees it, what can never be decoded (or handled)
dead-lettered at once with its reason, and powertools' partial batch response for the rest.

The email processor's batches run concurrently (bounded): it spends most of its time waiting for the LLM, and ten
messages written one after the other take ten LLM latencies, written side by side about one. Each record still
succeeds or fails on its own; records are independent (per-client safety comes from the store's conditional
writes), so their order does not matter here.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from engagement.clock import Clock
from engagement.errors import InvalidRecord
from engagement.observability import count, logger

Parsed = TypeVar("Parsed")


class DeadLetters(Protocol):
    def send(self, body: str, *, reason: str, field: str | None, failed_at: datetime) -> None: ...


class ConcurrentBatchProcessor(BatchProcessor):
    def __init__(self, event_type: EventType, max_workers: int) -> None:
        super().__init__(event_type=event_type)
        self.max_workers = max_workers

    def process(self) -> list[Any]:
        if self.max_workers <= 1 or len(self.records) <= 1:
            return super().process()
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(self.records))) as pool:
            return list(pool.map(self._process_record, self.records))


def at_the_edge(
    decode: Callable[[str], Parsed],
    handle: Callable[[Parsed, SQSRecord], object],
    *,
    dead_letters: DeadLetters,
    clock: Clock,
    correlation_id: Callable[[Parsed], str] | None = None,
    metric: str = "MessagesDeadLettered",
) -> Callable[[SQSRecord], None]:
    """A record handler: the body decoded, then handled. Input that can never succeed (InvalidRecord, from the
    decoding or the handling) is dead-lettered unchanged with its reason, and the record succeeds: a retry would
    only fail again. Errors worth a retry propagate: the record is reported as a batch item failure."""

    def record_handler(record: SQSRecord) -> None:
        try:
            parsed = decode(record.body)
            if correlation_id is not None:
                logger.thread_safe_append_keys(correlation_id=correlation_id(parsed))
            handle(parsed, record)
        except InvalidRecord as invalid:
            logger.error("message dead-lettered", extra={"reason": invalid.reason, "field": invalid.field})
            count(metric)
            dead_letters.send(record.body, reason=invalid.reason, field=invalid.field, failed_at=clock.now())
        finally:
            if correlation_id is not None:
                logger.thread_safe_remove_keys(["correlation_id"])

    return record_handler


def process_sqs(
    event: dict[str, Any], record_handler: Callable[[SQSRecord], None], processor: BatchProcessor | None = None
) -> dict[str, Any]:
    """An SQS batch, one record at a time (or concurrently, with ConcurrentBatchProcessor): partial batch response."""
    processor = processor or BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor))
