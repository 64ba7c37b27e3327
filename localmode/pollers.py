"""Local event source mappings: poll the emulator and invoke functions the way Lambda's pollers do.

Stream mapping (DynamoDB Streams → function):
- batches of up to batch_size records in shard order, in Lambda's event shape, filtered by the mapping's
  filter criteria;
- ReportBatchItemFailures: on item failures the batch is retried from the lowest failed sequence number;
- a function error bisects the batch (BisectBatchOnFunctionError) and retries the halves;
- after maximum_retry_attempts retries (-1: no limit), or once records are older than maximum_record_age,
  Lambda's on-failure record (metadata of the skipped range) goes to the on-failure queue and the shard moves on.

Queue mapping (SQS → function):
- batches of up to batch_size messages in Lambda's SQS event shape;
- messages reported in batchItemFailures (or all, on a function error) are left on the queue: they come back
  after the visibility timeout and reach the dead-letter queue after maxReceiveCount receives;
- the others are deleted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localmode import lambda_events
from localmode.filters import passes
from localmode.runtime import Invocation, LocalFunction


@dataclass
class BatchReport:
    """What one invocation did, for the console and the counters."""

    source: str
    function: str
    size: int
    failed: int
    invocation: Invocation
    note: str = ""


Reporter = Callable[[BatchReport], None]


class Poller(threading.Thread):
    """Base: a daemon thread that polls until stopped, and knows whether it is busy."""

    def __init__(self, name: str, stop: threading.Event, report: Reporter) -> None:
        super().__init__(name=name, daemon=True)
        self.stop_event = stop
        self.report = report
        self.busy = False
        self.deliveries = 0
        self.error: BaseException | None = None
        self.paused = threading.Event()  # like disabling an event source mapping: records wait where they are

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                if self.paused.is_set() or not self.poll_once():
                    self.stop_event.wait(self.idle_wait)
        except BaseException as exc:
            if self.stop_event.is_set():
                return  # stopping: the function or the emulator went away mid-batch, whose messages stay queued
            self.error = exc  # surfaced by the local mode, which then stops
            raise

    idle_wait = 0.2
    caught_up = True  # nothing known to be waiting for it (a queue's depth says what waits on a queue)

    def caught_up_since(self, moment: float) -> bool:
        """Caught up, by a look that began at or after moment (time.monotonic())."""
        return self.caught_up

    def poll_once(self) -> bool:
        raise NotImplementedError


def _failed_identifiers(invocation: Invocation) -> set[str] | None:
    """The batch item failures an invocation reported; None means the whole batch failed."""
    if invocation.failed:
        return None
    result = invocation.result or {}
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    try:
        return {str(failure["itemIdentifier"]) for failure in failures}
    except (KeyError, TypeError):
        return None  # a malformed response counts as a failed batch, as in Lambda


class StreamPoller(Poller):
    def __init__(
        self,
        *,
        function: LocalFunction,
        streams: Any,
        sqs: Any,
        stream_arn: str,
        region: str,
        batch_size: int,
        starting_position: str,
        maximum_retry_attempts: int,
        bisect_on_error: bool,
        maximum_record_age: int,
        on_failure_queue_url: str,
        stop: threading.Event,
        report: Reporter,
        filter_patterns: tuple[dict[str, Any], ...] = (),
    ) -> None:
        super().__init__(f"stream→{function.name}", stop, report)
        self.filter_patterns = filter_patterns
        self.function = function
        self.streams = streams
        self.sqs = sqs
        self.stream_arn = stream_arn
        self.region = region
        self.batch_size = batch_size
        self.starting_position = starting_position
        self.maximum_retry_attempts = maximum_retry_attempts
        self.bisect_on_error = bisect_on_error
        self.maximum_record_age = maximum_record_age
        self.on_failure_queue_url = on_failure_queue_url
        self._iterators: dict[str, str | None] = {}
        self.records_read = 0  # every record taken from the shards, whether or not the filter let it through
        # Its last look at every shard found nothing new (an IteratorAge of zero, in Lambda's terms). Not busy is
        # not enough to call the stream drained: a slow read of records still to deliver is neither.
        self.caught_up = False
        self.caught_up_at = float("-inf")  # when the last look that found nothing began
        # Set once every shard has its iterator: from then on, nothing written can be missed (LATEST).
        self.positioned = threading.Event()

    def _refresh_shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=self.starting_position
                )["ShardIterator"]
        self.positioned.set()

    def caught_up_since(self, moment: float) -> bool:
        """A look that found nothing must have begun after moment: one begun before may have missed what was
        written since, and a slow read of it is neither busy nor caught up."""
        return self.caught_up and self.caught_up_at >= moment

    def poll_once(self) -> bool:
        began = time.monotonic()
        if not self._iterators:
            self._refresh_shards()
        delivered = found = False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            self._iterators[shard_id] = response.get("NextShardIterator")
            if response["Records"]:
                found, self.caught_up = True, False
            self.records_read += len(response["Records"])
            records = [
                lambda_events.stream_record(record, self.stream_arn, self.region) for record in response["Records"]
            ]
            records = [record for record in records if passes(self.filter_patterns, record)]
            if records:
                self.busy = True
                try:
                    self._deliver(shard_id, records)
                finally:
                    self.busy = False
                    self.deliveries += 1
                delivered = True
        if not found:
            self.caught_up, self.caught_up_at = True, began
        return delivered

    def _deliver(self, shard_id: str, records: list[dict[str, Any]], attempt: int = 0) -> None:
        pending = records
        while pending and not self.stop_event.is_set():
            pending = self._drop_expired(shard_id, pending)
            if not pending:
                return
            invocation = self.function.invoke({"Records": pending})
            failed = _failed_identifiers(invocation)
            known = {record["dynamodb"]["SequenceNumber"] for record in pending}
            if failed is not None and not failed <= known:
                failed = None  # an unknown identifier fails the whole batch, as in Lambda
            self.report(
                BatchReport(
                    "stream",
                    self.function.label,
                    len(pending),
                    len(pending) if failed is None else len(failed),
                    invocation,
                )
            )
            if failed is not None and not failed:
                return
            if failed is None and self.bisect_on_error and len(pending) > 1:
                middle = len(pending) // 2
                self._deliver(shard_id, pending[:middle], attempt + 1)
                self._deliver(shard_id, pending[middle:], attempt + 1)
                return
            if failed:
                first = min(i for i, record in enumerate(pending) if record["dynamodb"]["SequenceNumber"] in failed)
                pending = pending[first:]
            attempt += 1
            if 0 <= self.maximum_retry_attempts < attempt:  # -1: retry until the record is too old
                self._give_up(shard_id, pending, "RetryAttemptsExhausted", attempt)
                return
            self.stop_event.wait(min(0.05 * 2**attempt, 1.0))

    def _drop_expired(self, shard_id: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        oldest_allowed = time.time() - self.maximum_record_age
        fresh = [r for r in records if r["dynamodb"].get("ApproximateCreationDateTime", 0) >= oldest_allowed]
        if len(fresh) < len(records):
            self._give_up(shard_id, records[: len(records) - len(fresh)], "RecordAgeExceeded", 0)
        return fresh

    def _give_up(self, shard_id: str, records: list[dict[str, Any]], condition: str, attempts: int) -> None:
        failure = lambda_events.stream_failure_record(
            function_arn=f"arn:aws:lambda:{self.region}:123456789012:function:{self.function.name}",
            stream_arn=self.stream_arn,
            shard_id=shard_id,
            records=records,
            condition=condition,
            invoke_count=attempts,
        )
        self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(failure))
        self.report(
            BatchReport("stream", self.function.label, len(records), len(records), Invocation(), note=condition)
        )


class QueuePoller(Poller):
    idle_wait = 0.0  # receive_message already long-polls

    def __init__(
        self,
        *,
        function: LocalFunction,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        batch_size: int,
        wait_seconds: int,
        stop: threading.Event,
        report: Reporter,
    ) -> None:
        super().__init__(f"sqs→{function.name}", stop, report)
        self.function = function
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds

    def poll_once(self) -> bool:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return False
        self.busy = True
        try:
            records = [lambda_events.sqs_record(message, self.queue_arn, self.region) for message in messages]
            invocation = self.function.invoke({"Records": records})
            failed = _failed_identifiers(invocation)
            known = {record["messageId"] for record in records}
            if failed is None or not failed <= known:
                failed = known
            done = [record for record in records if record["messageId"] not in failed]
            for start in range(0, len(done), 10):
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": record["receiptHandle"]}
                        for i, record in enumerate(done[start : start + 10])
                    ],
                )
            self.report(BatchReport("sqs", self.function.label, len(records), len(failed), invocation))
        finally:
            self.busy = False
            self.deliveries += 1
        return True


class SchedulePoller(Poller):
    """EventBridge Scheduler: invoke a function at a fixed rate with a fixed input."""

    def __init__(
        self,
        *,
        function: LocalFunction,
        interval_seconds: float,
        payload: dict[str, Any],
        stop: threading.Event,
        report: Reporter,
    ) -> None:
        super().__init__(f"schedule→{function.name}", stop, report)
        self.function = function
        self.interval_seconds = interval_seconds
        self.payload = payload
        self.idle_wait = min(1.0, interval_seconds)
        self._next = time.monotonic() + interval_seconds

    def poll_once(self) -> bool:
        if time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self.interval_seconds
        self.busy = True
        try:
            invocation = self.function.invoke(dict(self.payload))
            handled = (invocation.result or {}).get("handled", 0) if isinstance(invocation.result, dict) else 0
            if handled or invocation.failed:
                self.report(BatchReport("schedule", self.function.label, handled, int(invocation.failed), invocation))
        finally:
            self.busy = False
        return False  # a tick is not a delivery: it must not keep the drain check waiting
