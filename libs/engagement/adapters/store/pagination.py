"""Opaque cursors for paginated reads: a DynamoDB LastEvaluatedKey, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError

from engagement.domain import jsontext

T = TypeVar("T")

MAX_PAGE_SIZE = 100


class InvalidCursor(ValueError):
    """A cursor that this API did not hand out (or that was changed on the way back)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    raw = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, key_attributes: Collection[str], partition: tuple[str, str] | None = None
) -> dict[str, Any] | None:
    """The start key a cursor stands for; InvalidCursor unless it is a complete key of the expected shape.

    key_attributes are the attributes such a key has (table and index keys, all strings); partition, when given,
    is the (attribute, value) every key of this listing has, so a cursor from another listing is refused.
    """
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = jsontext.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if not isinstance(key, dict) or set(key) != set(key_attributes):
        raise InvalidCursor("cursor is not one this API returned")
    for value in key.values():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) and value["S"]):
            raise InvalidCursor("cursor is not one this API returned")
    if partition is not None and key[partition[0]]["S"] != partition[1]:
        raise InvalidCursor("cursor belongs to another listing")
    return key


@contextmanager
def cursor_refusals(start: dict[str, Any] | None) -> Iterator[None]:
    """DynamoDB refuses a start key that is not one of its own with ValidationException: a bad cursor."""
    try:
        yield
    except ClientError as exc:
        if start and exc.response.get("Error", {}).get("Code") == "ValidationException":
            raise InvalidCursor("cursor is not one this API returned") from exc
        raise
