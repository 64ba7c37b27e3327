"""Powertools' BatchProcessor, processing the records of a batch concurrently (bounded).

The email processor spends most of its time waiting for the LLM: ten messages written one after the other take
ten LLM latencies, written side by side about one. Partial batch responses work as before: each record succeeds
or fails on its own. Records are independent (per-client safety comes from the store's conditional writes), so
their order does not matter here.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class ConcurrentBatchProcessor(BatchProcessor):
    def __init__(self, event_type: EventType, max_workers: int) -> None:
        super().__init__(event_type=event_type)
        self.max_workers = max_workers

    def process(self) -> list[Any]:
        if self.max_workers <= 1 or len(self.records) <= 1:
            return super().process()
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(self.records))) as pool:
            return list(pool.map(self._process_record, self.records))


def process_sqs_bodies(event: dict[str, Any], handle_body: Callable[[str], object]) -> dict[str, Any]:
    """An SQS batch, one body at a time, with powertools' partial batch response."""

    def record_handler(record: SQSRecord) -> None:
        handle_body(record.body)

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor))
