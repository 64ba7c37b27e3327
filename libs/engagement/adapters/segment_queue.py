"""The rescoring sweep's task queue (SQS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement.adapters import aws
from engagement.adapters.messaging import batches, queue_depth
from engagement.domain.sweep import SegmentTask
from engagement.errors import TransientFailure

if TYPE_CHECKING:
    from types_boto3_sqs import SQSClient
    from types_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


class SegmentQueue:
    """Where segment tasks wait: the coordinator's fan-out, and a task's own continuation."""

    def __init__(self, queue_url: str, sqs: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._given_sqs = sqs

    @property
    def _sqs(self) -> SQSClient:  # made at first use, not at cold start
        return self._given_sqs or aws.client("sqs")

    def send(self, tasks: list[SegmentTask]) -> None:
        bodies = [task.model_dump_json(by_alias=True) for task in tasks]
        for chunk in batches(bodies):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(index), "MessageBody": bodies[index]} for index in chunk
            ]
            response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if response.get("Failed"):
                raise TransientFailure(f"{len(response['Failed'])} segment tasks not queued: {response['Failed'][0]}")

    def pending(self) -> int:
        """Tasks waiting, running or delayed (SQS's approximate counts): 0 when no run is going."""
        return sum(queue_depth(self._sqs, self.queue_url))
