"""Operator commands for a deployed environment (or the local mode).

    python scripts/ops.py logs --env dev --function email_processor [--correlation-id ID] [--since 10m]
    python scripts/ops.py logs --env local --function email_processor   # the running make local's emulator
    python scripts/ops.py smoke --env dev
    python scripts/ops.py smoke --endpoint-url http://127.0.0.1:4566 --prefix client-engagement-local

Names come from `terraform output` for the environment's workspace, or from --prefix for the local mode
(`--env local`: make local's names, and its emulator from .local/env).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNBOOK_TEST_USER_8 = {
    "email": {"S": "test8@example.com"},
    "name": {"S": "Test User 8"},
    "lastOrderDate": {"S": "2024-12-21T16:18:00.000Z"},
    "orderCount": {"N": "5"},
    "averageOrderValue": {"N": "100"},
    "preferredCategories": {"L": [{"S": "pants"}, {"S": "shirts"}]},
    "createdAt": {"S": "2025-03-21T16:18:00.000Z"},
    "updatedAt": {"S": "2025-03-21T16:18:00.000Z"},
    "engagementScore": {"N": "30"},
}
# The runbook's other client: engagementScore 50, so an event and a decision, and no email.
RUNBOOK_TEST_USER_1 = {
    **RUNBOOK_TEST_USER_8,
    "email": {"S": "test1@example.com"},
    "name": {"S": "Test User 1"},
    "engagementScore": {"N": "50"},
}


class OpsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Environment:
    users_table: str
    emails_table: str
    decisions_table: str
    log_groups: dict[str, str]
    region: str | None = None


def terraform_environment(env: str) -> Environment:
    def terraform(*args: str) -> str:
        try:
            return subprocess.run(  # noqa: S603
                ["terraform", "-chdir=terraform", *args],  # noqa: S607 - the operator's terraform
                cwd=REPO_ROOT, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
        except FileNotFoundError as exc:
            raise OpsError("terraform is not installed") from exc
        except subprocess.CalledProcessError as exc:
            raise OpsError(f"terraform {' '.join(args)} failed: {exc.stderr.strip()}") from exc

    terraform("workspace", "select", env)
    outputs = {name: value["value"] for name, value in json.loads(terraform("output", "-json")).items()}
    if "users_table" not in outputs:
        raise OpsError(f"environment {env!r} has no outputs: deploy it first (make deploy ENV={env})")
    return Environment(
        users_table=outputs["users_table"],
        emails_table=outputs["emails_table"],
        decisions_table=outputs["decisions_table"],
        log_groups=outputs["log_groups"],
        region=outputs.get("region"),
    )


FUNCTIONS = sorted(path.parent.name for path in (REPO_ROOT / "functions").glob("*/handler.py"))
LOCAL_PREFIX = "client-engagement-local"  # make local's (stack.resources.PREFIX)
LOCAL_ENV_FILE = REPO_ROOT / ".local" / "env"


def local_environment(prefix: str) -> Environment:
    return Environment(
        users_table=f"{prefix}-users",
        emails_table=f"{prefix}-emails",
        decisions_table=f"{prefix}-decisions",
        log_groups={name: f"/aws/lambda/{prefix}-{name}" for name in FUNCTIONS},
    )


def local_endpoint(env_file: Path = LOCAL_ENV_FILE) -> str:
    """The running local mode's emulator, from the exports it writes when it starts."""
    try:
        exports = dict(re.findall(r"^export (\w+)=(.*)$", env_file.read_text(), flags=re.MULTILINE))
    except FileNotFoundError:
        raise OpsError(f"no local mode is running ({env_file} is missing): start it with make local") from None
    if "AWS_ENDPOINT_URL" not in exports:
        raise OpsError(f"{env_file} names no AWS_ENDPOINT_URL: restart make local")
    return str(exports["AWS_ENDPOINT_URL"])


def parse_since(text: str) -> float:
    """'10m', '2h', '30s', '1d' → seconds."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise OpsError(f"--since takes a number and a unit, such as 30s, 10m, 2h or 1d, not {text!r}")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def logs(
    client: Any, log_group: str, *, since: float, correlation_id: str | None, follow: bool, out: Any = sys.stdout
) -> int:
    """Print a log group's events (only one correlation id's, if given), following new ones until Ctrl-C."""
    start = int((time.time() - since) * 1000)
    pattern = f'{{ $.correlation_id = "{correlation_id}" }}' if correlation_id else ""
    seen: set[str] = set()
    printed = 0
    while True:
        request: dict[str, Any] = {"logGroupName": log_group, "startTime": start, "interleaved": True}
        if pattern:
            request["filterPattern"] = pattern
        for page in client.get_paginator("filter_log_events").paginate(**request):
            for event in page.get("events", []):
                if event["eventId"] in seen or not _belongs(event["message"], correlation_id):
                    continue
                seen.add(event["eventId"])
                start = max(start, event["timestamp"])
                stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%H:%M:%S")
                print(f"{stamp}  {event['message'].rstrip()}", file=out, flush=True)
                printed += 1
        if not follow:
            return printed
        time.sleep(2)


def _belongs(message: str, correlation_id: str | None) -> bool:
    """The server filters by correlation id already; this check keeps emulators that ignore the pattern honest."""
    if correlation_id is None:
        return True
    try:
        line = json.loads(message)
    except ValueError:
        return correlation_id in message
    return isinstance(line, dict) and line.get("correlation_id") == correlation_id


@dataclass
class Stage:
    name: str
    done_at: float | None = None


def smoke_stamp() -> str:
    """What tells one smoke run's clients from another's: the time it began (UTC)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def smoke_users(stamp: str) -> tuple[str, str]:
    """The smoke test's test-user-8 and test-user-1 of a run."""
    return f"smoke-test-user-8-{stamp}", f"smoke-test-user-1-{stamp}"


def smoke(dynamodb: Any, environment: Environment, *, timeout: float, keep: bool, out: Any = sys.stdout,
          stamp: str | None = None) -> bool:  # fmt: skip
    """The runbook's test: test-user-8 through the pipeline (written, scored, decided, one draft), then test-user-1
    (scored and decided, no email). Says where it stopped."""
    user_8, user_1 = smoke_users(stamp or smoke_stamp())
    stages = [Stage("client written"), Stage("scored by stream_processor"), Stage("decision by email_processor"),
              Stage("draft stored")]  # fmt: skip
    started = time.monotonic()
    dynamodb.put_item(TableName=environment.users_table, Item={"userId": {"S": user_8}, **RUNBOOK_TEST_USER_8})
    stages[0].done_at = time.monotonic()
    print(f"put {user_8} (the runbook's test-user-8, engagementScore 30) into {environment.users_table}", file=out)

    def check() -> None:
        if stages[1].done_at is None and "band" in _client_item(dynamodb, environment, user_8):
            stages[1].done_at = time.monotonic()
        if stages[2].done_at is None and (decisions := _decisions(dynamodb, environment, user_8)):
            stages[2].done_at = time.monotonic()
            print(f"decision: {decisions[0]['reason']['S']}", file=out)
        if stages[3].done_at is None and (emails := _emails(dynamodb, environment, user_8)):
            stages[3].done_at = time.monotonic()
            listed = {"emailId": emails[0]["emailId"]}  # the index holds a summary; the email is in the table
            email = dynamodb.get_item(TableName=environment.emails_table, Key=listed)["Item"]
            print(f"draft {email['emailId']['S']}: {email['subject']['S']!r} ({email['writer']['S']})", file=out)

    while time.monotonic() - started < timeout and stages[-1].done_at is None:
        check()
        time.sleep(1)
    for stage in stages:
        took = "not reached" if stage.done_at is None else f"{stage.done_at - started:5.1f} s"
        print(f"  {stage.name:<30} {took}", file=out)
    if stages[-1].done_at is None:
        stopped = next(stage for stage in stages if stage.done_at is None)
        function = "stream_processor" if stopped is stages[1] else "email_processor"
        print(f"smoke test FAILED: stopped before '{stopped.name}' (waited {timeout:.0f} s); "
              f"look at: make logs FN={function} SINCE=5m", file=out)  # fmt: skip
        return False
    succeeded = _no_email_for_test_user_1(dynamodb, environment, user_1, timeout=timeout, out=out)
    drafts = len(_emails(dynamodb, environment, user_8))
    if drafts != 1:
        print(f"smoke test FAILED: {drafts} drafts for {user_8}, where the runbook expects exactly one", file=out)
        succeeded = False
    if succeeded:
        print(f"smoke test passed in {time.monotonic() - started:.1f} s", file=out)
        if not keep:
            for user_id in (user_8, user_1):
                dynamodb.delete_item(TableName=environment.users_table, Key={"userId": {"S": user_id}})
    return succeeded


def _no_email_for_test_user_1(dynamodb: Any, environment: Environment, user_id: str, *, timeout: float,
                              out: Any, settle_s: float = 5.0) -> bool:  # fmt: skip
    """test-user-1: scored (its event published) and, once the pipeline has had settle_s to act on it, no email."""
    dynamodb.put_item(TableName=environment.users_table, Item={"userId": {"S": user_id}, **RUNBOOK_TEST_USER_1})
    print(f"put {user_id} (the runbook's test-user-1, engagementScore 50)", file=out)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and "band" not in (item := _client_item(dynamodb, environment, user_id)):
        time.sleep(1)
    if "band" not in item:
        print(f"smoke test FAILED: {user_id} was not scored within {timeout:.0f} s; "
              "look at: make logs FN=stream_processor SINCE=5m", file=out)  # fmt: skip
        return False
    time.sleep(settle_s)
    decisions, emails = _decisions(dynamodb, environment, user_id), _emails(dynamodb, environment, user_id)
    decided = decisions[0]["reason"]["S"] if decisions else "none (its event is not one the email processor takes)"
    print(f"  test-user-1: scored {item['band']['S']}, decision {decided}, {len(emails)} emails", file=out)
    if emails or any(decision["send"]["BOOL"] for decision in decisions):
        print(f"smoke test FAILED: {user_id} should get no email", file=out)
        return False
    return True


def _client_item(dynamodb: Any, environment: Environment, user_id: str) -> dict[str, Any]:
    key = {"userId": {"S": user_id}}
    item: dict[str, Any] = dynamodb.get_item(TableName=environment.users_table, Key=key, ConsistentRead=True).get(
        "Item", {}
    )
    return item


def _decisions(dynamodb: Any, environment: Environment, user_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dynamodb.query(
        TableName=environment.decisions_table,
        KeyConditionExpression="userId = :u AND begins_with(decisionKey, :d)",
        ExpressionAttributeValues={":u": {"S": user_id}, ":d": {"S": "decision#"}},
    )["Items"]
    return items


def _emails(dynamodb: Any, environment: Environment, user_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dynamodb.query(
        TableName=environment.emails_table,
        IndexName="byUser",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
    )["Items"]
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="dev", help="environment (terraform workspace), default dev")
    parser.add_argument("--endpoint-url", help="an emulator (the local mode) instead of AWS")
    parser.add_argument("--prefix", help="resource name prefix, instead of reading terraform's outputs")
    parser.add_argument("--profile", help="AWS profile")
    commands = parser.add_subparsers(dest="command", required=True)
    log_parser = commands.add_parser("logs", help="follow a function's logs")
    log_parser.add_argument("--function", required=True, choices=FUNCTIONS)
    log_parser.add_argument("--correlation-id", help="only this event's lines (the engagement event id)")
    log_parser.add_argument("--since", default="10m", help="how far back to start (30s, 10m, 2h, 1d)")
    log_parser.add_argument("--no-follow", action="store_true", help="print what is there and stop")
    smoke_parser = commands.add_parser("smoke", help="the runbook's test through the deployed pipeline")
    smoke_parser.add_argument("--timeout", type=float, default=90)
    smoke_parser.add_argument("--keep", action="store_true", help="keep the smoke client in the users table")
    args = parser.parse_args(argv)

    import boto3

    try:
        session_options: dict[str, Any] = {"profile_name": args.profile}
        if args.env == "local" and not args.prefix:  # make local: its names, its emulator, its credentials
            args.prefix, args.endpoint_url = LOCAL_PREFIX, args.endpoint_url or local_endpoint()
            session_options = {"aws_access_key_id": "local", "aws_secret_access_key": "local",
                               "region_name": "us-east-1"}  # fmt: skip
        environment = local_environment(args.prefix) if args.prefix else terraform_environment(args.env)
        session = boto3.Session(**({"region_name": environment.region} | session_options))
        if args.command == "logs":
            client = session.client("logs", endpoint_url=args.endpoint_url)
            logs(
                client,
                environment.log_groups[args.function],
                since=parse_since(args.since),
                correlation_id=args.correlation_id,
                follow=not args.no_follow,
            )
            return 0
        dynamodb = session.client("dynamodb", endpoint_url=args.endpoint_url)
        return 0 if smoke(dynamodb, environment, timeout=args.timeout, keep=args.keep) else 1
    except OpsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
