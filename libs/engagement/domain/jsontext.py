"""Reading JSON that comes from outside (message bodies, request bodies, cursors) with a fixed nesting limit.

json.loads recurses once per level, so how deep it can go depends on how deep the caller's stack already is: the
API checked a body at one depth and powertools parsed it again deeper, where the same body overflowed (a 500).
Counting the nesting first, without recursion, gives one answer wherever it is asked.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engagement.errors import InvalidRecord

MAX_NESTING = 32  # DynamoDB's own limit for a document; no body or cursor this system reads comes near it
_SPECIAL = re.compile(r'["\\\[\]{}]')


class UnreadableJson(ValueError):
    """JSON the system refuses to read: nested deeper than MAX_NESTING."""


def nests_deeper_than(text: str | bytes, limit: int) -> bool:
    """Whether the arrays and objects in JSON text nest deeper than limit (brackets inside strings do not count).
    Linear in the special characters alone, and stops at the first level too deep."""
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text), "replace")  # as json.loads reads bytes
    depth, in_string, escaped_at = 0, False, -1
    for match in _SPECIAL.finditer(text):
        at, char = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def loads(text: str | bytes) -> Any:
    """json.loads for outside input: UnreadableJson (a ValueError, as json's own errors are) when it nests deeper
    than MAX_NESTING; ValueError also for an integer of over 4,300 digits."""
    if nests_deeper_than(text, MAX_NESTING):
        raise UnreadableJson(f"JSON nested deeper than {MAX_NESTING} levels")
    return json.loads(text)


def json_object(text: str, what: str) -> dict[str, Any]:
    """A message body as a JSON object; InvalidRecord, naming what it is, when it cannot be one."""
    try:
        payload = loads(text)
    except (ValueError, TypeError) as exc:  # ValueError: also too deep, or an integer of over 4300 digits
        raise InvalidRecord(f"{what} is not JSON we can read: {type(exc).__name__}: {exc}"[:500], "body") from exc
    if not isinstance(payload, dict):
        raise InvalidRecord(f"{what} is not a JSON object", "body")
    return payload
