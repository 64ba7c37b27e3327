"""The pipeline's queues as an operator sees them: depth, messages in flight, the oldest message's age; and
redriving a dead-letter queue back to the queue it came from.

A redrive moves messages one receive at a time: send to the queue, then delete from the dead-letter queue. A
crash in between leaves a message in both, which the consumers' idempotence absorbs; nothing is lost. The reason
attributes we add when dead-lettering are not carried back. The stream's dead-letter queue holds stream records,
which cannot be replayed into a stream: its messages are fixed by putting the client's item again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from engagement.adapters import aws
from engagement.adapters.messaging import queue_depth
from engagement.clock import TimeLeft, unlimited
from engagement.errors import Conflict, NotFound, TransientFailure
from engagement.observability import logger

if TYPE_CHECKING:
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_cloudwatch.type_defs import MetricDataResultTypeDef
    from types_boto3_sqs import SQSClient
    from types_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

OUR_ATTRIBUTES = frozenset({"source", "reason", "field", "failedAt"})  # the dead-lettering reason, not the message's
REDRIVE_RESERVE_S = 2.0  # stop redriving with this much of the invocation left, and answer with the count


class WatchedQueue(BaseModel):
    """A queue the API reports on; a dead-letter queue names the queue its messages are redriven to."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)

    name: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    kind: Literal["queue", "dead-letter"]
    redrives_to: str | None = None  # by name; None: cannot be redriven (the stream's dead letters)


class PipelineMonitor:
    def __init__(
        self, queues: tuple[WatchedQueue, ...], sqs: SQSClient | None = None, cloudwatch: CloudWatchClient | None = None
    ) -> None:
        self.queues = {queue.name: queue for queue in queues}
        self._given_sqs = sqs
        self._given_cloudwatch = cloudwatch

    @property
    def _cloudwatch(self) -> CloudWatchClient:  # made at first use, not at cold start
        return self._given_cloudwatch or aws.client("cloudwatch")

    @property
    def _sqs(self) -> SQSClient:  # made at first use, not at cold start: the API's pages mostly do not watch queues
        return self._given_sqs or aws.client("sqs")

    def health(self, now: datetime) -> list[dict[str, Any]]:
        report = []
        for queue in self.queues.values():
            visible, in_flight, delayed = self._depth(queue)
            if queue.kind == "dead-letter":
                oldest = self._oldest_dead_letter(queue, now)
            else:
                oldest = self._oldest_age(queue, now)
            report.append(
                {"name": queue.name, "kind": queue.kind, "visible": visible, "inFlight": in_flight, "delayed": delayed,
                 "oldestAgeSeconds": oldest, "redrivesTo": queue.redrives_to}
            )  # fmt: skip
        return report

    def redrive(self, name: str, *, limit: int, time_left: TimeLeft = unlimited) -> dict[str, int]:
        """Move up to limit messages from a dead-letter queue back to its source queue, stopping early (with the
        count moved so far) when less than REDRIVE_RESERVE_S of the invocation is left."""
        queue = self.queues.get(name)
        if queue is None or queue.kind != "dead-letter":
            raise NotFound(f"no dead-letter queue {name!r}")
        if queue.redrives_to is None:
            raise Conflict(f"{name} holds stream records, which cannot be replayed: put the client's item again")
        target = self.queues[queue.redrives_to]
        moved = 0
        while moved < limit and time_left() > REDRIVE_RESERVE_S:
            batch = self._move(queue, target, min(10, limit - moved))
            moved += batch
            if batch == 0:
                break
        logger.info("dead letters redriven", extra={"queue": name, "to": target.name, "moved": moved})
        return {"moved": moved, "remaining": self._depth(queue)[0]}

    def _move(self, queue: WatchedQueue, target: WatchedQueue, count: int) -> int:
        """Up to count messages from queue to target: sent first, then deleted. How many moved (0: none left, or
        the target refused them all; refused ones reappear in queue after the visibility timeout)."""
        try:
            received = self._sqs.receive_message(
                QueueUrl=queue.url, MaxNumberOfMessages=count, WaitTimeSeconds=0, VisibilityTimeout=60,
                MessageAttributeNames=["All"],
            ).get("Messages", [])  # fmt: skip
            if not received:
                return 0
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": message["Body"], "MessageAttributes": _carried(message)}
                for i, message in enumerate(received)
            ]
            sent = self._sqs.send_message_batch(QueueUrl=target.url, Entries=entries)
            done = [received[int(entry["Id"])] for entry in sent.get("Successful", [])]
            if done:
                receipts: list[DeleteMessageBatchRequestEntryTypeDef] = [
                    {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]} for i, message in enumerate(done)
                ]
                self._sqs.delete_message_batch(QueueUrl=queue.url, Entries=receipts)
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"redrive {queue.name}: {exc}") from exc
        return len(done)

    def _depth(self, queue: WatchedQueue) -> tuple[int, int, int]:
        """Visible, in flight, delayed."""
        try:
            return queue_depth(self._sqs, queue.url)
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"read {queue.name}: {exc}") from exc

    def _oldest_dead_letter(self, queue: WatchedQueue, now: datetime) -> int | None:
        """A look at up to 10 messages without taking them (visibility 0): the oldest one's age."""
        try:
            messages = self._sqs.receive_message(
                QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0,
                AttributeNames=["SentTimestamp"],
            ).get("Messages", [])  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"look into {queue.name}: {exc}") from exc
        sent = [int(message["Attributes"]["SentTimestamp"]) for message in messages]
        return max(0, round(now.timestamp() - min(sent) / 1000)) if sent else None

    def _oldest_age(self, queue: WatchedQueue, now: datetime) -> int | None:
        """SQS's own metric (a live queue is not peeked at: a look counts as a receive towards its DLQ)."""
        try:
            result = self._cloudwatch.get_metric_data(
                MetricDataQueries=[{"Id": "oldest", "ReturnData": True, "MetricStat": {
                    "Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage",
                               "Dimensions": [{"Name": "QueueName", "Value": queue.url.rsplit("/", 1)[-1]}]},
                    "Period": 60, "Stat": "Maximum"}}],
                StartTime=now - timedelta(minutes=10), EndTime=now,
            )  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            logger.warning("queue age unavailable", extra={"queue": queue.name, "error": str(exc)[:200]})
            return None
        results: list[MetricDataResultTypeDef] = result.get("MetricDataResults", [])
        values = results[0].get("Values", []) if results else []
        return round(values[0]) if values else None  # newest first


def _carried(message: MessageTypeDef) -> dict[str, MessageAttributeValueTypeDef]:
    """The message's own attributes, as SQS accepts them on a send."""
    carried: dict[str, MessageAttributeValueTypeDef] = {}
    for name, attribute in message.get("MessageAttributes", {}).items():
        if name in OUR_ATTRIBUTES:
            continue
        value: MessageAttributeValueTypeDef = {"DataType": attribute["DataType"]}
        if "StringValue" in attribute:
            value["StringValue"] = attribute["StringValue"]
        if "BinaryValue" in attribute:
            value["BinaryValue"] = attribute["BinaryValue"]
        carried[name] = value
    return carried
