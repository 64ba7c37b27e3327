"""The decisions table: every send or skip by userId, newest first, and each client's email slot.

Two kinds of item share the client's partition:
- `decision#<event time>#<event id>`: one decision per client and triggering event;
- `email-slot`: when the client's last win-back email was claimed, and for which email. Claiming it with a
  conditional write is what guarantees at most one email per cooldown window. It lives here, not on the users item,
  because upstream systems replace whole user items (PutItem) and would erase it;
- `request#<request id>`: when an operator first asked for a draft with that request id, so that the request sent
  again is the same event (the same decision and email), however often it is sent.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from datetime import datetime, timedelta
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
from engagement.adapters.store.pagination import MAX_PAGE_SIZE, Page, cursor_refusals, decode_cursor, encode_cursor
from engagement.clock import format_instant, parse_instant
from engagement.domain.models import DecisionRecord, EmailHistory
from engagement.errors import TransientFailure

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

RETENTION = timedelta(days=400)
DECISION_PREFIX = "decision#"
EMAIL_SLOT = "email-slot"
REQUEST_PREFIX = "request#"
REQUESTS_KEPT = timedelta(days=30)
# The counters the stats read, so they never scan this (the largest) table: conversion counters, and one
# `decided_<reason>` per reason. Each is added to in the same transaction as the write it counts (a decision, a sent
# email, a conversion), so a crash between two writes can never leave a thing done but uncounted. They are spread
# over COUNTER_SHARDS partitions (by the client) so that concurrent writers seldom meet on one item; reading them
# is one BatchGetItem.
COUNTER_SHARDS = 16
LEGACY_COUNTERS_KEY = {"userId": {"S": "#stats"}, "decisionKey": {"S": "conversion"}}  # the one item before shards
CONVERSION_COUNTERS = ("emailed", "emailedConverted", "heldOut", "heldOutConverted")
DECIDED_PREFIX = "decided_"
AGGREGATE_KEY = {"userId": {"S": "#stats"}, "decisionKey": {"S": "aggregate"}}  # the cached overview (stats.py)
RECOUNT_LEASE_KEY = {"userId": {"S": "#stats"}, "decisionKey": {"S": "recount-lease"}}  # one recount at a time
_REPLACE_ATTEMPTS = 3
_READ_ATTEMPTS = 5


def counter_key(shard: int) -> dict[str, Any]:
    return {"userId": {"S": f"#stats#{shard:02d}"}, "decisionKey": {"S": "counters"}}


def decision_counts(reason: str) -> Counter[str]:
    """What one stored decision adds to the counters."""
    return Counter({f"{DECIDED_PREFIX}{reason}": 1, "heldOut": int(reason == "held_out")})


def decision_key(occurred_at: datetime, event_id: str) -> str:
    """Sorts by the triggering event's time; one per client and event, so a retry rewrites the same item."""
    return f"{DECISION_PREFIX}{format_instant(occurred_at)}#{event_id}"


class DecisionRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def record(self, decision: DecisionRecord) -> bool:
        """Store a decision and count it (decided_<reason>, heldOut) in one transaction; False if a decision for
        this event was already stored. A redelivered event decided otherwise replaces it and the count moves with
        it, so the counters always equal the stored decisions; a skip never replaces a send (a late redelivery)."""
        values = decision.model_dump(mode="json", by_alias=True)
        values["expiresAt"] = int((decision.decided_at + RETENTION).timestamp())
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": to_item(values),
            "ConditionExpression": "attribute_not_exists(userId)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        own = decision_counts(decision.reason.value)
        counts = own
        for _ in range(_REPLACE_ATTEMPTS):
            try:
                write_counted(self._dynamodb, {"Put": put}, self.increment(decision.user_id, **counts),
                              f"record decision for {decision.user_id}")  # fmt: skip
                return counts is own
            except AlreadyDone as done:
                stored = from_item(done.item)
            if not stored:  # expired or deleted meanwhile: record it afresh
                put.pop("ExpressionAttributeValues", None)
                put["ConditionExpression"], counts = "attribute_not_exists(userId)", own
                continue
            if stored.get("reason") == decision.reason.value or (stored.get("send") and not decision.send):
                return False
            counts = own.copy()
            counts.subtract(decision_counts(str(stored.get("reason"))))
            put["ConditionExpression"] = "reason = :stored"  # unchanged since we read it
            put["ExpressionAttributeValues"] = {":stored": to_attribute(stored.get("reason"))}
        raise TransientFailure(f"record decision for {decision.user_id}: it kept changing while being recorded")

    def remember_request(self, user_id: str, request_id: str, at: datetime) -> datetime:
        """When this request was first made: at, the first time; the stored time when it was made before."""
        key = {"userId": {"S": user_id}, "decisionKey": {"S": f"{REQUEST_PREFIX}{request_id}"}}
        try:
            with translated_errors(f"remember request {request_id} of {user_id}"):
                self._dynamodb.put_item(
                    TableName=self.table_name,
                    Item={**key, "requestedAt": {"S": format_instant(at)},
                          "expiresAt": {"N": str(int((at + REQUESTS_KEPT).timestamp()))}},
                    ConditionExpression="attribute_not_exists(userId)",
                )  # fmt: skip
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            with translated_errors(f"read request {request_id} of {user_id}"):
                stored = self._dynamodb.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
            first = stored.get("Item", {}).get("requestedAt", {}).get("S")
            if first is None:  # expired between the two calls: it is made now
                return self.remember_request(user_id, request_id, at)
            return parse_instant(first)
        return at

    def for_user(self, user_id: str, *, limit: int, cursor: str | None = None) -> Page[DecisionRecord]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "userId = :user AND begins_with(decisionKey, :decisions)",
            "ExpressionAttributeValues": {":user": {"S": user_id}, ":decisions": {"S": DECISION_PREFIX}},
            "ScanIndexForward": False,
            "Limit": min(limit, MAX_PAGE_SIZE),
        }
        start = decode_cursor(cursor, {"userId", "decisionKey"}, partition=("userId", user_id))
        if start:
            request["ExclusiveStartKey"] = start
        with cursor_refusals(start), translated_errors(f"list decisions for {user_id}"):
            response = self._dynamodb.query(**request)
        decisions = [DecisionRecord.model_validate(from_item(item)) for item in response.get("Items", [])]
        # Keys sort by the triggering event's time, which streams give in whole seconds: within one second,
        # the order the decisions were made in is the better guess.
        decisions.sort(key=lambda d: (d.decision_key[: len(DECISION_PREFIX) + 19], d.decided_at), reverse=True)
        return Page(items=decisions, next_cursor=encode_cursor(response.get("LastEvaluatedKey")))

    def email_history(self, user_id: str) -> EmailHistory:
        with translated_errors(f"read email slot of {user_id}"):
            response = self._dynamodb.get_item(
                TableName=self.table_name,
                Key={"userId": {"S": user_id}, "decisionKey": {"S": EMAIL_SLOT}},
                ConsistentRead=True,
            )
        return EmailHistory.model_validate(from_item(response.get("Item", {})))

    def claim_email_slot(self, user_id: str, email_id: str, now: datetime, cooldown: timedelta) -> bool:
        """Claim the client's one email per cooldown for email_id; False if another email holds it.

        Succeeds only when the slot is free (never claimed, or claimed longer ago than the cooldown) or already
        held by this same email (a retry), so racing and redelivered messages cannot both win.
        """
        try:
            with translated_errors(f"claim email slot of {user_id}"):
                self._dynamodb.update_item(
                    TableName=self.table_name,
                    Key={"userId": {"S": user_id}, "decisionKey": {"S": EMAIL_SLOT}},
                    UpdateExpression="SET lastEmailDate = :now, lastEmailId = :email",
                    ConditionExpression=(
                        "attribute_not_exists(lastEmailDate) OR lastEmailDate < :cutoff OR lastEmailId = :email"
                    ),
                    ExpressionAttributeValues={
                        ":now": {"S": format_instant(now)},
                        ":email": {"S": email_id},
                        ":cutoff": {"S": format_instant(now - cooldown)},
                    },
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def release_email_slot(self, user_id: str, email_id: str) -> None:
        """Give back a slot claimed for an email that will not be written (only if this email still holds it)."""
        try:
            with translated_errors(f"release email slot of {user_id}"):
                self._dynamodb.delete_item(
                    TableName=self.table_name,
                    Key={"userId": {"S": user_id}, "decisionKey": {"S": EMAIL_SLOT}},
                    ConditionExpression="lastEmailId = :email",
                    ExpressionAttributeValues={":email": {"S": email_id}},
                )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def held_out_since(self, user_id: str, since: datetime) -> list[DecisionRecord]:
        """The client's held_out decisions since a time, newest first."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "userId = :user AND decisionKey BETWEEN :from AND :to",
            "FilterExpression": "reason = :held",
            "ExpressionAttributeValues": {
                ":user": {"S": user_id},
                ":from": {"S": f"{DECISION_PREFIX}{format_instant(since)}"},
                ":to": {"S": f"{DECISION_PREFIX}~"},
                ":held": {"S": "held_out"},
            },
            "ScanIndexForward": False,
        }
        with translated_errors(f"list held-out decisions of {user_id}"):
            response = self._dynamodb.query(**request)
        return [DecisionRecord.model_validate(from_item(item)) for item in response.get("Items", [])]

    def mark_converted(self, user_id: str, key: str, at: datetime) -> bool:
        """Record the order that followed this held_out decision, counted once (heldOutConverted); False if it was
        already marked."""
        return mark_once(self._dynamodb, self.table_name, {"userId": user_id, "decisionKey": key}, "convertedAt", at,
                         f"mark a decision of {user_id} converted",
                         counting=self.increment(user_id, heldOutConverted=1))  # fmt: skip

    def increment(self, owner: str, **increments: int) -> dict[str, Any]:
        """The transaction item that adds to the counters (emailed, emailedConverted, heldOut, heldOutConverted,
        decided_<reason>) in the owner's shard: a write that counts something makes it in its own transaction."""
        named = sorted((name, value) for name, value in increments.items() if value)
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": counter_key(zlib.crc32(owner.encode()) % COUNTER_SHARDS),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(named))),
                "ExpressionAttributeNames": {f"#c{i}": name for i, (name, _) in enumerate(named)},
                "ExpressionAttributeValues": {f":c{i}": {"N": str(value)} for i, (_, value) in enumerate(named)},
            }
        }

    def counters(self) -> dict[str, int]:
        """Every counter, summed over the shards."""
        keys = [LEGACY_COUNTERS_KEY, *(counter_key(shard) for shard in range(COUNTER_SHARDS))]
        request: dict[str, Any] = {self.table_name: {"Keys": keys}}
        totals: Counter[str] = Counter()
        for attempt in range(_READ_ATTEMPTS):
            time.sleep(0.05 * (2**attempt - 1))  # none at first; then a growing pause, as AWS asks for unprocessed keys
            with translated_errors("read the counters"):
                response = self._dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table_name, []):
                totals.update({name: int(value) for name, value in from_item(item).items()
                               if name not in ("userId", "decisionKey")})  # fmt: skip
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return dict(totals)
        raise TransientFailure("read the counters: DynamoDB left some keys unprocessed, again and again")

    def conversion_counts(self) -> dict[str, int]:
        counts = self.counters()
        return {name: counts.get(name, 0) for name in CONVERSION_COUNTERS}

    def cached_aggregate(self) -> dict[str, Any] | None:
        """The stats overview last computed, with its computedAt; None if there is none yet."""
        with translated_errors("read the cached stats"):
            item = self._dynamodb.get_item(TableName=self.table_name, Key=AGGREGATE_KEY).get("Item")
        return json.loads(item["payload"]["S"]) if item else None

    def take_recount_lease(self, holder: str, now: datetime, until: datetime) -> bool:
        """Hold the right to recount the overview until `until`; False while someone else holds it."""
        try:
            with translated_errors("take the stats recount lease"):
                self._dynamodb.put_item(
                    TableName=self.table_name,
                    Item={**RECOUNT_LEASE_KEY, "holder": {"S": holder}, "until": {"S": format_instant(until)}},
                    ConditionExpression="attribute_not_exists(#until) OR #until <= :now OR holder = :holder",
                    ExpressionAttributeNames={"#until": "until"},
                    ExpressionAttributeValues={":now": {"S": format_instant(now)}, ":holder": {"S": holder}},
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def release_recount_lease(self, holder: str, now: datetime) -> None:
        """Give the lease back (it runs out by itself if this never happens), only if this holder still has it."""
        try:
            with translated_errors("release the stats recount lease"):
                self._dynamodb.put_item(
                    TableName=self.table_name,
                    Item={**RECOUNT_LEASE_KEY, "holder": {"S": holder}, "until": {"S": format_instant(now)}},
                    ConditionExpression="holder = :holder",
                    ExpressionAttributeValues={":holder": {"S": holder}},
                )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def cache_aggregate(self, payload: dict[str, Any]) -> None:
        with translated_errors("cache the stats"):
            self._dynamodb.put_item(
                TableName=self.table_name, Item={**AGGREGATE_KEY, "payload": {"S": json.dumps(payload)}}
            )
