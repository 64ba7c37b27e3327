"""SNS and SQS adapters: publishing engagement events, queueing an operator's request for the email processor, and
dead-lettering what can never succeed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from engagement.adapters import aws
from engagement.clock import format_instant
from engagement.domain.events import encode_event, message_attributes
from engagement.domain.models import EngagementEvent
from engagement.errors import TransientFailure

if TYPE_CHECKING:
    from types_boto3_sns import SNSClient
    from types_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef
    from types_boto3_sqs import SQSClient
    from types_boto3_sqs.type_defs import MessageAttributeValueTypeDef

MAX_BATCH_ENTRIES = 10  # SNS PublishBatch and SQS SendMessageBatch: at most 10 entries...
MAX_BATCH_BYTES = 256 * 1024  # ...and 256 KiB in all
ENTRY_OVERHEAD = 512  # bytes counted per entry for its id and message attributes
MAX_MESSAGE_BYTES = 256 * 1024  # one SQS message, body and attributes: the queues' MaximumMessageSize
DEAD_LETTER_ATTRIBUTE_BYTES = 2048  # what DeadLetterQueue.send's attributes can take of it
_REASON_LIMIT = 1000
QUEUE_DEPTH = (  # SQS's approximate counts: visible, in flight, delayed
    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
)  # fmt: skip


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int, int]:
    """Messages visible, in flight and delayed (SQS's approximate counts)."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(QUEUE_DEPTH))["Attributes"]
    visible, in_flight, delayed = (int(attributes.get(name, 0)) for name in QUEUE_DEPTH)
    return visible, in_flight, delayed


@dataclass(frozen=True)
class PublishFailure:
    """An event SNS did not accept. sender_fault means retrying the same message cannot help."""

    index: int
    code: str
    message: str
    sender_fault: bool


def batches(bodies: Sequence[str]) -> Iterator[list[int]]:
    """The bodies' indexes in groups that fit one PublishBatch or SendMessageBatch call."""
    chunk: list[int] = []
    size = 0
    for index, body in enumerate(bodies):
        length = len(body.encode()) + ENTRY_OVERHEAD
        if chunk and (len(chunk) == MAX_BATCH_ENTRIES or size + length > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(index)
        size += length
    if chunk:
        yield chunk


class EventPublisher:
    def __init__(self, topic_arn: str, sns: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._sns = sns or aws.client("sns")

    def publish(self, events: Sequence[EngagementEvent]) -> list[PublishFailure]:
        """Publish with PublishBatch (10 a call); return the events that were not published, by index."""
        bodies = [encode_event(event) for event in events]
        failures: list[PublishFailure] = []
        for chunk in batches(bodies):
            entries: list[PublishBatchRequestEntryTypeDef] = [
                {
                    "Id": f"e{index}",
                    "Message": bodies[index],
                    "MessageAttributes": cast(Any, message_attributes(events[index])),
                }
                for index in chunk
            ]
            try:
                response = self._sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
            except (ClientError, BotoCoreError) as exc:
                failures.extend(
                    PublishFailure(index=index, code=type(exc).__name__, message=str(exc), sender_fault=False)
                    for index in chunk
                )
                continue
            for failed in response.get("Failed", []):
                failures.append(
                    PublishFailure(
                        index=int(failed["Id"][1:]),
                        code=failed.get("Code", ""),
                        message=failed.get("Message", ""),
                        sender_fault=bool(failed.get("SenderFault")),
                    )
                )
        return failures


class EmailRequestQueue:
    """The email processor's queue, for an event that is for it alone (an operator's request): the message it would
    get through the topic (raw delivery), body and attributes."""

    def __init__(self, queue_url: str, sqs: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._given_sqs = sqs

    def send(self, event: EngagementEvent) -> None:
        sqs = self._given_sqs or aws.client("sqs")  # made at first use, not at the API's cold start
        try:
            sqs.send_message(QueueUrl=self.queue_url, MessageBody=encode_event(event),
                             MessageAttributes=cast(Any, message_attributes(event)))  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"queue event {event.id}: {exc}") from exc


class DeadLetterQueue:
    """Keeps input that can never succeed, unchanged, with the reason in message attributes.

    The body is the original payload, so a message from the email queue can be redriven as it is once the cause
    is fixed.
    """

    def __init__(self, queue_url: str, source: str, sqs: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.source = source
        self._given_sqs = sqs

    @property
    def _sqs(self) -> SQSClient:  # made at first use, not at cold start: most batches dead-letter nothing
        return self._given_sqs or aws.client("sqs")

    def send(self, body: str, *, reason: str, field: str | None, failed_at: datetime) -> None:
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "source": {"DataType": "String", "StringValue": self.source},
            "reason": {"DataType": "String", "StringValue": reason[:_REASON_LIMIT]},
            "failedAt": {"DataType": "String", "StringValue": format_instant(failed_at)},
        }
        if field:
            attributes["field"] = {"DataType": "String", "StringValue": field[:256]}
        try:
            self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes)
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"dead-letter to {self.queue_url}: {exc}") from exc
