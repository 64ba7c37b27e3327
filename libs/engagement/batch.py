"""Powertools' BatchProcessor, processing the records of a batch concurrently (bounded).

The email processor spends most of its time waiting for the LLM: ten messages written one after the other take
ten LLM latencies, written side by side about one. Partial batch responses work as before: each record succeeds
or fails on its own. Records are independent (per-client safety comes from the store's conditional writes), so
their order does not matter here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType


class ConcurrentBatchProcessor(BatchProcessor):
    def __init__(self, event_type: EventType, max_workers: int) -> None:
        super().__init__(event_type=event_type)
        self.max_workers = max_workers

    def process(self) -> list[Any]:
        if self.max_workers <= 1 or len(self.records) <= 1:
            return super().process()
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(self.records))) as pool:
            return list(pool.map(self._process_record, self.records))
