"""Store webhooks handled: one item per webhook id, kept for WEBHOOK_MEMORY (then DynamoDB's TTL removes it).

The store retries a webhook with the same id until it is answered (Shopify: for up to 48 hours), so the API looks
here before queueing one, and the worker marks each one it has handled: a retried or replayed webhook changes
nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from engagement.adapters import aws
from engagement.adapters.store.dynamo import is_condition_failure, translated_errors
from engagement.clock import format_instant

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

WEBHOOK_MEMORY = timedelta(days=30)


class WebhookRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def handled(self, webhook_id: str) -> bool:
        with translated_errors(f"read webhook {webhook_id}"):
            response = self._dynamodb.get_item(
                TableName=self.table_name, Key={"webhookId": {"S": webhook_id}}, ConsistentRead=True
            )
        return "Item" in response

    def mark_handled(self, webhook_id: str, *, topic: str, outcome: str, at: datetime) -> bool:
        """Record a webhook as handled; False if it was already."""
        try:
            with translated_errors(f"mark webhook {webhook_id}"):
                self._dynamodb.put_item(
                    TableName=self.table_name,
                    Item={
                        "webhookId": {"S": webhook_id},
                        "topic": {"S": topic},
                        "outcome": {"S": outcome[:500]},
                        "handledAt": {"S": format_instant(at)},
                        "expiresAt": {"N": str(int((at + WEBHOOK_MEMORY).timestamp()))},
                    },
                    ConditionExpression="attribute_not_exists(webhookId)",
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
