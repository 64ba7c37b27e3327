"""The suppression list: addresses that unsubscribed, bounced hard or complained. Keyed by the lower-cased address.

An unsubscribe is kept here as well as on the client's item: upstream systems replace whole items (PutItem) and
would erase optedOut, but consent must survive that.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engagement.adapters import aws
from engagement.adapters.store.dynamo import to_item, translated_errors
from engagement.clock import format_instant

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

UNSUBSCRIBED = "unsubscribed"


def _key(address: str) -> dict[str, Any]:
    return {"address": {"S": address.strip().lower()}}


class SuppressionRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def reason_for(self, address: str) -> str | None:
        """Why an address is on the list ("unsubscribed", "bounce:Permanent", "complaint:abuse"), or None."""
        with translated_errors("read the suppression list"):
            response = self._dynamodb.get_item(TableName=self.table_name, Key=_key(address), ConsistentRead=True)
        item = response.get("Item")
        return str(item.get("reason", {}).get("S", "suppressed")) if item else None

    def suppress(self, address: str, *, reason: str, at: datetime, source: dict[str, Any]) -> None:
        """Add (or refresh) an address; the first reason and time are kept, the latest event is recorded."""
        with translated_errors("update the suppression list"):
            self._dynamodb.update_item(
                TableName=self.table_name,
                Key=_key(address),
                UpdateExpression=(
                    "SET reason = if_not_exists(reason, :reason), suppressedAt = if_not_exists(suppressedAt, :at), "
                    "lastEvent = :source, lastEventAt = :at ADD events :one"
                ),
                ExpressionAttributeValues={
                    ":reason": {"S": reason},
                    ":at": {"S": format_instant(at)},
                    ":source": {"M": to_item(source)},
                    ":one": {"N": "1"},
                },
            )
