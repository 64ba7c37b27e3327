"""Builders for the event shapes Lambda delivers (see tests/fixtures/ for captured originals)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from engagement.adapters.store.dynamo import from_item
from engagement.domain.events import encode_event, event_from_change
from engagement.domain.models import EngagementEvent

STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/client-engagement-local-users/stream/2026-11-28T00:00:00.000"
)
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:client-engagement-local-email-requests"
_sequence = itertools.count(1_000_000_000_000_000_000)
_serializer = TypeSerializer()

# The original runbook's items, as `aws dynamodb put-item --item` takes them.
RUNBOOK_TEST_USER_1 = {
    "userId": {"S": "test-user-1"}, "email": {"S": "test1@example.com"}, "name": {"S": "Test User 1"},
    "lastOrderDate": {"S": "2025-03-21T15:01:00.000Z"}, "orderCount": {"N": "10"}, "averageOrderValue": {"N": "200"},
    "preferredCategories": {"L": [{"S": "dresses"}, {"S": "tops"}]}, "createdAt": {"S": "2025-03-21T15:01:00.000Z"},
    "updatedAt": {"S": "2025-03-21T15:01:00.000Z"}, "engagementScore": {"N": "50"},
}  # fmt: skip
RUNBOOK_TEST_USER_8 = {
    "userId": {"S": "test-user-8"}, "email": {"S": "test8@example.com"}, "name": {"S": "Test User 8"},
    "lastOrderDate": {"S": "2024-12-21T16:18:00.000Z"}, "orderCount": {"N": "5"}, "averageOrderValue": {"N": "100"},
    "preferredCategories": {"L": [{"S": "pants"}, {"S": "shirts"}]}, "createdAt": {"S": "2025-03-21T16:18:00.000Z"},
    "updatedAt": {"S": "2025-03-21T16:18:00.000Z"}, "engagementScore": {"N": "30"},
}  # fmt: skip


def to_image(values: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, float | int) and not isinstance(value, bool):
            return Decimal(str(value))
        if isinstance(value, list):
            return [plain(inner) for inner in value]
        return value

    return {name: _serializer.serialize(plain(value)) for name, value in values.items()}


def client_values(user_id: str = "u-1", **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "userId": user_id,
        "email": f"{user_id}@example.com",
        "name": "Ada Lovelace",
        "lastOrderDate": "2026-05-01T10:00:00.000Z",
        "orderCount": 4,
        "averageOrderValue": 80,
        "preferredCategories": ["knitwear", "shoes"],
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2026-05-01T10:00:00.000Z",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def stream_record(
    event_name: str,
    *,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    raw_new: dict[str, Any] | None = None,
    created: int = 1_795_000_000,
) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it (images given as plain values or raw attribute maps)."""
    new_image = raw_new if raw_new is not None else (to_image(new) if new is not None else None)
    old_image = to_image(old) if old is not None else None
    key_source = new_image or old_image or {"userId": {"S": "unknown"}}
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": created,
        "Keys": {"userId": key_source.get("userId", {"S": "unknown"})},
        "SequenceNumber": str(next(_sequence)),
        "SizeBytes": 200,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new_image is not None:
        change["NewImage"] = new_image
    if old_image is not None:
        change["OldImage"] = old_image
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": STREAM_ARN,
    }


def sqs_record(body: str, *, message_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1795000000000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1795000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def load_fixture(name: str) -> dict[str, Any]:
    from pathlib import Path

    return json.loads((Path(__file__).parent.parent / "fixtures" / name).read_text())  # type: ignore[no-any-return]


# ---- engagement events, as the stream processor publishes them ------------------------------------------------

EVENT_TIME = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # when the tests' events are made (their "now")


def event_for(item: dict[str, Any], event_id: str = "evt-1", event_name: str = "INSERT") -> EngagementEvent:
    event = event_from_change(
        event_name=event_name,
        event_id=event_id,
        occurred_at=EVENT_TIME - timedelta(seconds=5),
        old_image=from_item(item) if event_name == "REMOVE" else None,
        new_image=None if event_name == "REMOVE" else from_item(item),
        now=EVENT_TIME,
    )
    assert event is not None
    return event


def message(item: dict[str, Any], event_id: str = "evt-1", **kwargs: Any) -> dict[str, Any]:
    return sqs_record(encode_event(event_for(item, event_id)), **kwargs)
