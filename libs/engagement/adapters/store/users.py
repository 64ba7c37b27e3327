"""The users table: one item per client, keyed by userId."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from engagement.adapters import aws
from engagement.adapters.store.dynamo import from_item, is_condition_failure, to_attribute, to_item, translated_errors
from engagement.adapters.store.pagination import MAX_PAGE_SIZE, Page, cursor_refusals, decode_cursor, encode_cursor
from engagement.clock import format_instant
from engagement.domain.events import client_from_item
from engagement.domain.models import Band, Client
from engagement.errors import Conflict, Refused

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient


BY_EMAIL_INDEX = "byEmail"  # keys only: a store's webhook names its customer by address


class UserRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def get_item(self, user_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        with translated_errors(f"read client {user_id}"):
            response = self._dynamodb.get_item(
                TableName=self.table_name, Key={"userId": {"S": user_id}}, ConsistentRead=consistent
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_items(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The clients' current items by id (consistent reads, 100 a call); the ids with no client are absent."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(user_ids))
        for start in range(0, len(wanted), 100):
            keys = [{"userId": {"S": user_id}} for user_id in wanted[start : start + 100]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                with translated_errors("read clients"):
                    response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    found[item["userId"]["S"]] = from_item(item)
                request = response.get("UnprocessedKeys") or {}
        return found

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

    def restore(self, user_id: str, attributes: Mapping[str, Any]) -> None:
        """Put back the system's attributes an upstream write erased, each only if still absent (a newer value the
        system wrote meanwhile stays). No fact changes, so no event follows."""
        names = sorted(attributes)
        self._update_existing(
            user_id,
            "SET " + ", ".join(f"#a{i} = if_not_exists(#a{i}, :a{i})" for i in range(len(names))),
            {f":a{i}": to_attribute(attributes[name]) for i, name in enumerate(names)},
            names={f"#a{i}": name for i, name in enumerate(names)},
        )

    def record_rescore(
        self,
        user_id: str,
        *,
        computed_score: float,
        band: Band,
        scored_at: datetime,
        run_date: str,
        lapse: str,
        attempts: int,
    ) -> None:
        """The sweep's marks: the score as of the run, the day it published the client, the lapse's attempts."""
        self._update_existing(
            user_id,
            "SET computedScore = :score, band = :band, scoredAt = :at, rescoredOn = :day, winbackLapse = :lapse, "
            "winbackAttempts = :attempts",
            {
                ":score": to_attribute(computed_score),
                ":band": {"S": band.value},
                ":at": {"S": format_instant(scored_at)},
                ":day": {"S": run_date},
                ":lapse": {"S": lapse},
                ":attempts": {"N": str(attempts)},
            },
        )

    def scan_segment(
        self,
        segment: int,
        total_segments: int,
        *,
        attributes: tuple[str, ...],
        start_key: dict[str, Any] | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of one parallel-scan segment, with only the named attributes; and where the next page starts."""
        names = {f"#p{i}": name for i, name in enumerate(attributes)}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Segment": segment,
            "TotalSegments": total_segments,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "Limit": limit,
        }
        if start_key:
            request["ExclusiveStartKey"] = start_key
        with translated_errors(f"scan segment {segment} of {total_segments}"):
            response = self._dynamodb.scan(**request)
        return [from_item(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")

    def _update_existing(
        self, user_id: str, expression: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> None:
        """Update the system's own attributes of a client; a client deleted meanwhile is not brought back. Raises
        TransientFailure, or Refused when DynamoDB will never accept the write."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"userId": {"S": user_id}},
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(userId)",
            "ExpressionAttributeValues": values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            with translated_errors(f"update {user_id}"):
                self._dynamodb.update_item(**request)
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise Refused(f"update {user_id}: {exc}") from exc

    def page(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        matches: Callable[[dict[str, Any]], bool] | None = None,
        max_examined: int = 2000,
    ) -> Page[dict[str, Any]]:
        """Clients in table order (a scan, paginated), only those that match if matches is given. A filtered page
        stops after examining max_examined items, so it may hold fewer than limit with a cursor to go on from."""
        limit = min(limit, MAX_PAGE_SIZE)
        start = decode_cursor(cursor, {"userId"})
        found: list[dict[str, Any]] = []
        examined = 0
        while True:
            request: dict[str, Any] = {"TableName": self.table_name, "Limit": limit if matches is None else 200}
            if start:
                request["ExclusiveStartKey"] = start
            with cursor_refusals(start), translated_errors("list clients"):
                response = self._dynamodb.scan(**request)
            start = response.get("LastEvaluatedKey")
            for item in map(from_item, response.get("Items", [])):
                examined += 1
                if matches is None or matches(item):
                    found.append(item)
                    if len(found) == limit:  # go on after this item next time (a scan resumes after any key)
                        return Page(items=found, next_cursor=encode_cursor({"userId": {"S": item["userId"]}}))
            if start is None or examined >= max_examined:
                return Page(items=found, next_cursor=encode_cursor(start))

    def every_item(self, attributes: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """Every client, with only the named attributes (a full scan: for aggregates that are cached)."""
        names = {f"#p{i}": name for i, name in enumerate(attributes)}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
        while True:
            with translated_errors("scan clients"):
                response = self._dynamodb.scan(**request)
            yield from map(from_item, response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def create(self, item: Mapping[str, Any]) -> bool:
        """Add a client; False if one with that userId exists."""
        try:
            with translated_errors(f"create client {item['userId']}"):
                self._dynamodb.put_item(
                    TableName=self.table_name, Item=to_item(item), ConditionExpression="attribute_not_exists(userId)"
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def update(
        self, user_id: str, changes: Mapping[str, Any], *, expected: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Set (or, for None, remove) attributes of an existing client; the new item, or None if there is no such
        client. expected: attribute values the item must still have (None: must not have it), else Conflict."""
        request = self.update_action(user_id, changes, expected=expected) | {"ReturnValues": "ALL_NEW"}
        try:
            with translated_errors(f"update client {user_id}"):
                response = self._dynamodb.update_item(**request)
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            if self.get_item(user_id) is None:
                return None  # no such client
            raise Conflict(f"client {user_id} changed meanwhile") from exc
        return from_item(response["Attributes"])

    def update_action(
        self, user_id: str, changes: Mapping[str, Any], *, expected: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The update of an existing client, as a request (or a transaction's Update): set (None: remove) the
        changes, on the condition that the client exists and the expected attributes still have these values
        (None: still absent)."""
        names = {f"#a{i}": name for i, name in enumerate(changes)}
        values: dict[str, Any] = {}
        sets, removes = [], []
        for alias, name in names.items():
            if changes[name] is None:
                removes.append(alias)
            else:
                values[f":v{alias[2:]}"] = to_attribute(changes[name])
                sets.append(f"{alias} = :v{alias[2:]}")
        clauses = [f"SET {', '.join(sets)}"] if sets else []
        clauses += [f"REMOVE {', '.join(removes)}"] if removes else []
        conditions = ["attribute_exists(userId)"]
        for i, (name, value) in enumerate((expected or {}).items()):
            names[f"#e{i}"] = name
            if value is None:
                conditions.append(f"attribute_not_exists(#e{i})")
            else:
                values[f":e{i}"] = to_attribute(value)
                conditions.append(f"#e{i} = :e{i}")
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"userId": {"S": user_id}},
            "UpdateExpression": " ".join(clauses),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        return request

    def with_email(self, address: str) -> list[str]:
        """The ids of the clients with this (normalised) address, from the byEmail index."""
        with translated_errors("find clients by email"):
            response = self._dynamodb.query(
                TableName=self.table_name,
                IndexName=BY_EMAIL_INDEX,
                KeyConditionExpression="email = :email",
                ExpressionAttributeValues={":email": {"S": address}},
                Limit=10,
            )
        return [item["userId"]["S"] for item in response.get("Items", [])]

    def delete(self, user_id: str) -> bool:
        """Remove a client (the stream then cancels their drafts); False if there was none."""
        try:
            with translated_errors(f"delete client {user_id}"):
                self._dynamodb.delete_item(
                    TableName=self.table_name,
                    Key={"userId": {"S": user_id}},
                    ConditionExpression="attribute_exists(userId)",
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
