"""Conversions between Python values and DynamoDB attribute values, error translation, write-once marks, and
counted writes (a write and the counter that counts it, in one transaction)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from engagement.adapters.aws import error_code, is_transient
from engagement.clock import format_instant
from engagement.errors import TransientFailure

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {key: _dynamo_value(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_value(inner) for inner in value]
    return value


def to_attribute(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_dynamo_value(value)))


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: to_attribute(value) for name, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn throttling, 5xx and connection errors into TransientFailure; let the rest through."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        if is_transient(exc):
            raise TransientFailure(f"{action}: {exc}") from exc
        raise


def mark_once(
    dynamodb: Any,
    table: str,
    key: Mapping[str, str],
    attribute: str,
    at: datetime,
    action: str,
    counting: Mapping[str, Any],
) -> bool:
    """Set attribute to the instant at on an existing item, unless it is already set; False if it was.
    counting: the counter increment (a transaction item) made with the mark, so a mark is counted exactly once."""
    update = {
        "TableName": table,
        "Key": {name: {"S": value} for name, value in key.items()},
        "UpdateExpression": "SET #mark = :at",
        "ConditionExpression": f"attribute_exists({next(iter(key))}) AND attribute_not_exists(#mark)",
        "ExpressionAttributeNames": {"#mark": attribute},
        "ExpressionAttributeValues": {":at": {"S": format_instant(at)}},
    }
    try:
        write_counted(dynamodb, {"Update": update}, counting, action)
    except AlreadyDone:
        return False
    return True


class AlreadyDone(Exception):
    """A counted write's own condition failed: the thing was done before, so nothing was written or counted."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        super().__init__("the write's condition failed")
        self.item = dict(item)  # the item as it stands, if the write asked for it (ReturnValuesOnConditionCheckFailure)


# Cancellation reasons worth another try: the transaction met another on one of its items, or was throttled.
_TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ProvisionedThroughputExceeded", "ThrottlingError"})
CONFLICT_RETRIES = 4


def write_counted(dynamodb: Any, write: Mapping[str, Any], counting: Mapping[str, Any], action: str) -> None:
    """Make a write and the counter increment that counts it in one transaction: both happen or neither, so a crash
    or a throttled call between two writes can never leave a thing done but uncounted.

    write: a transaction item ({"Put": …} or {"Update": …}) whose condition says the thing is not done yet; if it
    fails, AlreadyDone. A conflict with another transaction on the same item (two counted writes on one counter
    shard at once) is retried here after a short pause; if it persists, TransientFailure.
    """
    attempt = 1
    while True:
        try:
            with translated_errors(action):
                dynamodb.transact_write_items(TransactItems=[write, counting])
            return None
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                raise AlreadyDone(reasons[0].get("Item") or {}) from exc
            if not {reason.get("Code") for reason in reasons} & _TRANSIENT_CANCELLATIONS:
                raise
            if attempt == CONFLICT_RETRIES:
                raise TransientFailure(f"{action}: {exc}") from exc
        time.sleep(random.uniform(0.005, 0.02) * attempt)  # noqa: S311 (a jitter, not a secret)
        attempt += 1
