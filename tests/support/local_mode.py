"""Reading a running local mode from a test: its tables, its API, and waiting for the pipeline to get there."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from stack import resources


def wait_for(condition: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    return condition()


def emails_of(local_mode: Any, user_id: str) -> list[dict[str, Any]]:
    """The client's emails, whole: listed by the byUser index (which holds summaries), read from the table."""
    dynamodb = local_mode.client("dynamodb")
    listed = dynamodb.query(
        TableName=resources.EMAILS.name,
        IndexName="byUser",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
    )["Items"]
    return [dynamodb.get_item(TableName=resources.EMAILS.name, Key={"emailId": e["emailId"]})["Item"] for e in listed]


def api_get(local_mode: Any, path: str) -> Any:
    request = urllib.request.Request(local_mode.api_url + path, headers={"Authorization": f"Bearer {local_mode.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
