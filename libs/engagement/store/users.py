"""The users table: one item per client, keyed by userId."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from engagement import aws
from engagement.clock import format_instant
from engagement.events import client_from_item
from engagement.models import Band, Client
from engagement.store.dynamo import from_item, is_condition_failure, to_attribute, translated_errors
from engagement.store.pagination import MAX_PAGE_SIZE, Page, cursor_refusals, decode_cursor, encode_cursor


class UserRepository:
    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def get_item(self, user_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        with translated_errors(f"read client {user_id}"):
            response = self._dynamodb.get_item(
                TableName=self.table_name, Key={"userId": {"S": user_id}}, ConsistentRead=consistent
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def get(self, user_id: str, *, consistent: bool = True) -> Client | None:
        """The client's current item, or None; InvalidRecord if the item breaks the data contract."""
        item = self.get_item(user_id, consistent=consistent)
        return client_from_item(item) if item is not None else None

    def mark_emailed(self, user_id: str, email_id: str, at: datetime) -> None:
        """Show the client's last email on the item (lastEmailDate is not a fact: no event follows)."""
        self._update_existing(
            user_id,
            "SET lastEmailDate = :at, lastEmailId = :email",
            {":at": {"S": format_instant(at)}, ":email": {"S": email_id}},
        )

    def opt_out(self, user_id: str, at: datetime) -> None:
        """The client unsubscribed: optedOut is a fact, so the change flows through the pipeline too."""
        self._update_existing(
            user_id, "SET optedOut = :yes, optedOutAt = :at", {":yes": {"BOOL": True}, ":at": {"S": format_instant(at)}}
        )

    def record_score(self, user_id: str, computed_score: float, band: Band, scored_at: datetime) -> None:
        """Store the score in the system's own attributes (never engagementScore)."""
        self._update_existing(
            user_id,
            "SET computedScore = :score, band = :band, scoredAt = :at",
            {
                ":score": to_attribute(computed_score),
                ":band": {"S": band.value},
                ":at": {"S": format_instant(scored_at)},
            },
        )

    def _update_existing(self, user_id: str, expression: str, values: dict[str, Any]) -> None:
        """Update the system's own attributes of a client; a client deleted meanwhile is not brought back."""
        try:
            with translated_errors(f"update {user_id}"):
                self._dynamodb.update_item(
                    TableName=self.table_name,
                    Key={"userId": {"S": user_id}},
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(userId)",
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def page(self, *, limit: int, cursor: str | None = None) -> Page[dict[str, Any]]:
        """Clients in table order (a scan, paginated)."""
        request: dict[str, Any] = {"TableName": self.table_name, "Limit": min(limit, MAX_PAGE_SIZE)}
        start = decode_cursor(cursor, {"userId"})
        if start:
            request["ExclusiveStartKey"] = start
        with cursor_refusals(start), translated_errors("list clients"):
            response = self._dynamodb.scan(**request)
        return Page(
            items=[from_item(item) for item in response.get("Items", [])],
            next_cursor=encode_cursor(response.get("LastEvaluatedKey")),
        )
