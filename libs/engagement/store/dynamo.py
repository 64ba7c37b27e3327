"""Conversions between Python values and DynamoDB attribute values, error translation, and write-once marks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from engagement.aws import is_transient
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
    return _serializer.serialize(_dynamo_value(value))  # type: ignore[no-any-return]


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


def mark_once(dynamodb: Any, table: str, key: Mapping[str, str], attribute: str, at: datetime, action: str) -> bool:
    """Set attribute to the instant at on an existing item, unless it is already set; False if it was."""
    try:
        with translated_errors(action):
            dynamodb.update_item(
                TableName=table,
                Key={name: {"S": value} for name, value in key.items()},
                UpdateExpression="SET #mark = :at",
                ConditionExpression=f"attribute_exists({next(iter(key))}) AND attribute_not_exists(#mark)",
                ExpressionAttributeNames={"#mark": attribute},
                ExpressionAttributeValues={":at": {"S": format_instant(at)}},
            )
    except ClientError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
