"""Lambda event filtering (the subset of EventBridge patterns the mappings use), for the local pollers.

A record is delivered when it matches any of the mapping's patterns; a pattern matches when every key does. A
value list matches if any entry does: a literal (equal), {"prefix": "..."}, {"exists": true|false} or
{"anything-but": [...]}. Records that match no pattern are dropped, as Lambda drops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_MISSING = object()


def _value_matches(condition: Any, value: Any) -> bool:
    if isinstance(condition, dict):
        if "exists" in condition:
            return (value is not _MISSING) == bool(condition["exists"])
        if value is _MISSING:
            return False
        if "prefix" in condition:
            return isinstance(value, str) and value.startswith(condition["prefix"])
        if "anything-but" in condition:
            excluded = condition["anything-but"]
            return value not in (excluded if isinstance(excluded, list) else [excluded])
        raise ValueError(f"filter operator not supported locally: {condition}")
    return value is not _MISSING and value == condition


def matches(pattern: dict[str, Any], record: Any) -> bool:
    for key, expected in pattern.items():
        value = record.get(key, _MISSING) if isinstance(record, dict) else _MISSING
        if isinstance(expected, dict):
            if not matches(expected, {} if value is _MISSING else value):  # a missing parent: its leaves are absent
                return False
        elif not any(_value_matches(condition, value) for condition in expected):
            return False
    return True


def passes(patterns: Sequence[dict[str, Any]], record: dict[str, Any]) -> bool:
    """No patterns: everything passes."""
    return not patterns or any(matches(pattern, record) for pattern in patterns)
