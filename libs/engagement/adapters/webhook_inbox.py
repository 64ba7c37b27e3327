"""Where a store's verified webhooks wait to be handled (SQS): the API answers the store at once, the worker
handles them at its own pace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement.adapters import aws
from engagement.adapters.store.dynamo import translated_errors
from engagement.domain.webhooks import StoreWebhook

if TYPE_CHECKING:
    from types_boto3_sqs import SQSClient


class WebhookInbox:
    def __init__(self, queue_url: str, sqs: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._given_sqs = sqs

    @property
    def _sqs(self) -> SQSClient:  # made at first use, not at cold start
        return self._given_sqs or aws.client("sqs")

    def put(self, webhook: StoreWebhook) -> None:
        with translated_errors(f"queue webhook {webhook.webhook_id}"):
            self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=webhook.model_dump_json(by_alias=True))
