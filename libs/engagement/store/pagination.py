"""Opaque cursors for paginated reads: a DynamoDB LastEvaluatedKey, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


def decode_cursor(cursor: str | None, allowed_attributes: Collection[str]) -> dict[str, Any] | None:
    """The start key a cursor stands for; InvalidCursor unless it is a key of the expected shape."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if not isinstance(key, dict) or not key or not set(key) <= set(allowed_attributes):
        raise InvalidCursor("cursor is not one this API returned")
    for value in key.values():
        if not (isinstance(value, dict) and len(value) == 1 and set(value) <= {"S", "N"}):
            raise InvalidCursor("cursor is not one this API returned")
        if not isinstance(next(iter(value.values())), str):
            raise InvalidCursor("cursor is not one this API returned")
    return key
