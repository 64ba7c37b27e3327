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


def test_the_local_modes_log_lines_reach_its_cloudwatch_logs_and_ops_reads_them(tmp_path: Any) -> None:
    from localmode.log_shipping import LogShipper

    log = tmp_path / "email_processor.log"
    with mock_aws():
        client = boto3.client("logs")
        shipper = LogShipper(client, {"client-engagement-local-email_processor": log})
        shipper.prepare()
        shipper.prepare()  # a second start (a Terraform-made run's groups exist already): nothing breaks
        group = "/aws/lambda/client-engagement-local-email_processor"
        [described] = client.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        assert described["retentionInDays"] == 30
        assert shipper.ship() == 0  # no file yet: nothing, no error
        log.write_text(json.dumps({"message": "win-back email drafted", "correlation_id": "evt-9"}) + "\n"
                       + "Traceback (most recent call last):\n" + '{"message": "half a li')  # fmt: skip
        assert shipper.ship() == 2  # whole lines only: the one being written waits for its end
        with log.open("a") as more:
            more.write('ne", "correlation_id": "evt-9"}\n')
        assert shipper.ship() == 1
        assert shipper.ship() == 0  # each line once
        printed = io.StringIO()
        assert logs(client, group, since=60, correlation_id="evt-9", follow=False, out=printed) == 2
        assert "half a line" in printed.getvalue()


def test_ops_finds_the_running_local_mode_by_its_env_file(tmp_path: Any) -> None:
    from scripts.ops import local_endpoint

    env_file = tmp_path / "env"
    with pytest.raises(OpsError, match="no local mode is running"):
        local_endpoint(env_file)
    env_file.write_text("export AWS_ENDPOINT_URL=http://127.0.0.1:4566\nexport API_TOKEN=x\n")
    assert local_endpoint(env_file) == "http://127.0.0.1:4566"
