"""Operator commands on moto: reading a function's logs, filtered by correlation id."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts.ops import OpsError, logs, parse_since


def test_logs_show_one_events_lines_by_correlation_id() -> None:
    with mock_aws():
        client = boto3.client("logs")
        client.create_log_group(logGroupName="/aws/lambda/fn")
        client.create_log_stream(logGroupName="/aws/lambda/fn", logStreamName="s")
        now = int(time.time() * 1000)
        lines = [{"message": "event published", "correlation_id": cid} for cid in ("evt-1", "evt-2", "evt-1")]
        client.put_log_events(
            logGroupName="/aws/lambda/fn",
            logStreamName="s",
            logEvents=[{"timestamp": now + i, "message": json.dumps(line)} for i, line in enumerate(lines)],
        )
        everything, only_one = io.StringIO(), io.StringIO()
        assert logs(client, "/aws/lambda/fn", since=60, correlation_id=None, follow=False, out=everything) == 3
        assert logs(client, "/aws/lambda/fn", since=60, correlation_id="evt-1", follow=False, out=only_one) == 2
    assert "evt-2" not in only_one.getvalue()


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_since_takes_a_number_and_a_unit(text: str, seconds: Any) -> None:
    assert parse_since(text) == seconds


def test_since_names_what_it_wants() -> None:
    with pytest.raises(OpsError, match="30s, 10m, 2h or 1d"):
        parse_since("yesterday")
