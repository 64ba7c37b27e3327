"""The emails table: one item per win-back email, with GSIs by user and by status (newest first).

The indexes project only EmailSummary's attributes (INCLUDE): a status change rewrites a small entry in each, not
the whole email twice over, and an email's content is written once, to the table. What lists need (caps, cooldowns,
attribution, what is due) reads the summaries; a page of whole emails is read back from the table by key.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from engagement.adapters import aws
from engagement.adapters.store.dynamo import (
    AlreadyDone,
    from_item,
    is_condition_failure,
    mark_once,
    to_attribute,
    to_item,
    translated_errors,
    write_counted,
)
from engagement.adapters.store.pagination import (
    MAX_PAGE_SIZE,
    InvalidCursor,
    Page,
    cursor_refusals,
    decode_cursor,
    encode_cursor,
)
from engagement.clock import format_instant
from engagement.domain import jsontext
from engagement.domain.lifecycle import InvalidTransition
from engagement.domain.models import Email, EmailChanges, EmailStatus, EmailSummary, StatusChange
from engagement.errors import Conflict, TransientFailure

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import UpdateTypeDef

BY_USER_INDEX = "byUser"
BY_STATUS_INDEX = "byStatus"
_INDEX_KEYS = {BY_USER_INDEX: ("userId", "createdAt"), BY_STATUS_INDEX: ("status", "createdAt")}
SUMMARY_ATTRIBUTES = tuple(field.alias or name for name, field in EmailSummary.model_fields.items())
_BATCH_GET_LIMIT = 100
_BATCH_GET_ATTEMPTS = 5


def projected_attributes(index: str) -> tuple[str, ...]:
    """What an index carries besides its keys and the table's: its non-key attributes (Terraform says the same)."""
    return tuple(name for name in SUMMARY_ATTRIBUTES if name not in ("emailId", *_INDEX_KEYS[index]))


class EmailRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def add(self, email: Email) -> bool:
        """Store a new email; False if an email with this id is already stored (a retry), which is left as is."""
        try:
            with translated_errors(f"store email {email.email_id}"):
                self._dynamodb.put_item(
                    TableName=self.table_name,
                    Item=to_item(email.model_dump(mode="json", by_alias=True)),
                    ConditionExpression="attribute_not_exists(emailId)",
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def transition(
        self,
        email_id: str,
        step: StatusChange,
        changes: EmailChanges | None = None,
        *,
        expected_version: int | None = None,
        counting: dict[str, Any] | None = None,
    ) -> Email:
        """Move an email from step.from_status to step.to_status, atomically, appending the step to its history.

        The condition on the current status is what makes concurrent moves safe: of two approvals, or of two senders
        claiming SENDING, exactly one succeeds; the other gets InvalidTransition with the status it found. With
        expected_version (the number of steps the caller saw), a move of an email someone changed meanwhile (an edit
        keeps the status) raises Conflict instead: a reviewer approves the text they read, or nothing. counting: a
        counter increment made in the same transaction as the move (a sent email is counted once, whatever happens).
        changes: what else the move writes on the email.
        """
        assert step.from_status is not None
        values: dict[str, Any] = {":from": step.from_status.value, ":to": step.to_status.value, ":at": step.at,
                  ":step": [step.model_dump(mode="json", by_alias=True)], ":none": []}  # fmt: skip
        assignments = [
            "#status = :to",
            "statusChangedAt = :at",
            "transitions = list_append(if_not_exists(transitions, :none), :step)",
        ]
        for name, value in (changes.attributes() if changes else {}).items():
            values[f":{name}"] = value
            assignments.append(f"{name} = :{name}")
        condition = "attribute_exists(emailId) AND #status = :from"
        if expected_version is not None:
            values[":version"] = expected_version
            condition += " AND size(transitions) = :version"
        update: UpdateTypeDef = {
            "TableName": self.table_name,
            "Key": {"emailId": {"S": email_id}},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                key: to_attribute(format_instant(v) if isinstance(v, datetime) else v) for key, v in values.items()
            },
        }
        action = f"move email {email_id} to {step.to_status.value}"
        try:
            if counting is not None:
                write_counted(self._dynamodb, {"Update": update}, counting, action)
                moved = self.get(email_id, consistent=True)
                assert moved is not None, f"email {email_id} vanished right after it moved"
                return moved
            with translated_errors(action):
                response = self._dynamodb.update_item(**update, ReturnValues="ALL_NEW")
            return Email.model_validate(from_item(response["Attributes"]))
        except (AlreadyDone, ClientError) as exc:
            if isinstance(exc, ClientError) and not is_condition_failure(exc):
                raise
            current = self.get(email_id)
            if current is not None and current.status is step.from_status and expected_version is not None:
                raise Conflict(
                    f"email {email_id} changed since you read it (version {expected_version}, now "
                    f"{len(current.transitions)}): reload it"
                ) from exc
            raise InvalidTransition(email_id, current.status if current else None, step.to_status) from exc

    def for_user_since(self, user_id: str, since: datetime) -> list[EmailSummary]:
        """The client's emails created since a time, newest first (all pages)."""
        emails: list[EmailSummary] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": "userId = :user AND createdAt >= :since",
            "ExpressionAttributeValues": {":user": {"S": user_id}, ":since": {"S": format_instant(since)}},
            "ScanIndexForward": False,
        }
        while True:
            with translated_errors(f"list emails of {user_id}"):
                response = self._dynamodb.query(**request)
            emails += [EmailSummary.model_validate(from_item(item)) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return emails
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count_in_status(self, status: EmailStatus) -> int:
        """How many emails are in a status (counted on the status index, all pages)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_STATUS_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status.value}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            with translated_errors(f"count {status.value} emails"):
                response = self._dynamodb.query(**request)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def in_status(self, status: EmailStatus) -> list[EmailSummary]:
        """Every email in a status (for the few, short-lived ones: SCHEDULED and SENDING), as the index saw them."""
        emails: list[EmailSummary] = []
        start: dict[str, Any] | None = None
        while True:
            page = self._query_raw(BY_STATUS_INDEX, status.value, limit=MAX_PAGE_SIZE, start=start)
            emails += page.items
            if page.next_cursor is None:
                return emails
            start = _index_key(BY_STATUS_INDEX, emails[-1])

    def mark_converted(self, email_id: str, at: datetime, *, counting: dict[str, Any]) -> bool:
        """Record the order that followed this email, with the counter increment that counts it (one transaction);
        False if it was already marked."""
        return mark_once(self._dynamodb, self.table_name, {"emailId": email_id}, "convertedAt", at,
                         f"mark email {email_id} converted", counting=counting)  # fmt: skip

    def get(self, email_id: str, *, consistent: bool = False) -> Email | None:
        with translated_errors(f"read email {email_id}"):
            response = self._dynamodb.get_item(
                TableName=self.table_name, Key={"emailId": {"S": email_id}}, ConsistentRead=consistent
            )
        item = response.get("Item")
        return Email.model_validate(from_item(item)) if item else None

    def for_user(self, user_id: str, *, limit: int, cursor: str | None = None) -> Page[Email]:
        return self._whole_page(self._query(BY_USER_INDEX, user_id, limit=limit, cursor=cursor))

    def with_status(self, status: EmailStatus, *, limit: int, cursor: str | None = None) -> Page[Email]:
        return self._whole_page(self._query(BY_STATUS_INDEX, status.value, limit=limit, cursor=cursor))

    def newest(self, *, limit: int, cursor: str | None = None) -> Page[Email]:
        """All emails, newest first: the by-status partitions merged.

        Each status's emails are taken in the order DynamoDB returned them (ties included), so the cursor, which
        holds per status where its next page starts (a key, or None once exhausted), never skips or repeats one.
        """
        starts = _decode_merge_cursor(cursor)
        fetched: dict[str, tuple[list[EmailSummary], bool]] = {}
        for status in EmailStatus:
            if status.value in starts and starts[status.value] is None:
                continue
            page = self._query_raw(BY_STATUS_INDEX, status.value, limit=limit, start=starts.get(status.value))
            fetched[status.value] = (page.items, page.next_cursor is not None)
        streams = [[(email, name) for email in emails] for name, (emails, _) in fetched.items()]
        merged = list(heapq.merge(*streams, key=lambda pair: pair[0].created_at, reverse=True))[:limit]
        next_starts: dict[str, dict[str, Any] | None] = {
            status: start for status, start in starts.items() if start is None
        }
        for name, (emails, more) in fetched.items():
            consumed = [email for email, source in merged if source == name]
            if len(consumed) == len(emails) and not more:
                next_starts[name] = None
            elif consumed:
                next_starts[name] = _index_key(BY_STATUS_INDEX, consumed[-1])
            elif name in starts:
                next_starts[name] = starts[name]
        finished = len(next_starts) == len(EmailStatus) and all(v is None for v in next_starts.values())
        return self._whole_page(
            Page(items=[email for email, _ in merged], next_cursor=None if finished else _encode(next_starts))
        )

    def _whole(self, summaries: list[EmailSummary]) -> list[Email]:
        """The emails listed, read from the table in the same order (BatchGetItem, 100 at a time); one deleted since
        it was listed is left out."""
        found: dict[str, Email] = {}
        wanted = list(dict.fromkeys(summary.email_id for summary in summaries))
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            request: Any = {
                self.table_name: {"Keys": [{"emailId": {"S": i}} for i in wanted[start : start + _BATCH_GET_LIMIT]]}
            }
            for attempt in range(_BATCH_GET_ATTEMPTS):
                with translated_errors("read emails"):
                    response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    email = Email.model_validate(from_item(item))
                    found[email.email_id] = email
                request = response.get("UnprocessedKeys")
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)  # DynamoDB left some unread (throttled): back off, then the rest
            else:
                raise TransientFailure("read emails: DynamoDB kept leaving some unread; try again")
        return [found[summary.email_id] for summary in summaries if summary.email_id in found]

    def _whole_page(self, page: Page[EmailSummary]) -> Page[Email]:
        return Page(items=self._whole(page.items), next_cursor=page.next_cursor)

    def _query(self, index: str, value: str, *, limit: int, cursor: str | None) -> Page[EmailSummary]:
        partition_key = _INDEX_KEYS[index][0]
        start = decode_cursor(cursor, {"emailId", *_INDEX_KEYS[index]}, partition=(partition_key, value))
        return self._query_raw(index, value, limit=limit, start=start)

    def _query_raw(self, index: str, value: str, *, limit: int, start: dict[str, Any] | None) -> Page[EmailSummary]:
        partition_key = _INDEX_KEYS[index][0]
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :value",
            "ExpressionAttributeNames": {"#pk": partition_key},
            "ExpressionAttributeValues": {":value": {"S": value}},
            "ScanIndexForward": False,
            "Limit": min(limit, MAX_PAGE_SIZE),
        }
        if start:
            request["ExclusiveStartKey"] = start
        with cursor_refusals(start), translated_errors(f"list emails by {partition_key}"):
            response = self._dynamodb.query(**request)
        return Page(
            items=[EmailSummary.model_validate(from_item(item)) for item in response.get("Items", [])],
            next_cursor=encode_cursor(response.get("LastEvaluatedKey")),
        )


def _index_key(index: str, email: EmailSummary) -> dict[str, Any]:
    stored = to_item(email.model_dump(mode="json", by_alias=True))
    return {name: stored[name] for name in ("emailId", *_INDEX_KEYS[index])}


def _encode(starts: dict[str, dict[str, Any] | None]) -> str:
    raw = json.dumps(starts, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_merge_cursor(cursor: str | None) -> dict[str, dict[str, Any] | None]:
    if not cursor:
        return {}
    try:
        starts = jsontext.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if not isinstance(starts, dict) or not set(starts) <= {status.value for status in EmailStatus}:
        raise InvalidCursor("cursor is not one this API returned")
    allowed = {"emailId", *_INDEX_KEYS[BY_STATUS_INDEX]}
    return {
        status: None if start is None else decode_cursor(encode_cursor(start), allowed, partition=("status", status))
        for status, start in starts.items()
    }
