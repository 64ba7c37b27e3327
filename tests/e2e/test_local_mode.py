"""End to end in the local mode: the original runbook's put-items, through stream, SNS, SQS, to drafts and the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from scripts.seed_users import generate_clients, write_clients
from stack import resources
from tests.e2e.conftest import REPO_ROOT, RunningLocalMode, free_port, local_mode_environment, start_local_mode
from tests.support.events import RUNBOOK_TEST_USER_1, RUNBOOK_TEST_USER_8
from tests.support.local_mode import api_get, emails_of, wait_for

pytestmark = pytest.mark.e2e


def put_item_like_the_runbook(local_mode: RunningLocalMode, item: dict[str, Any]) -> None:
    """`aws dynamodb put-item --endpoint-url … --table-name … --item '<runbook JSON>'` (boto3 if no CLI)."""
    table = resources.USERS.name
    aws_cli = shutil.which("aws")
    if aws_cli:
        environment = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        subprocess.run(
            [aws_cli, "dynamodb", "put-item", "--endpoint-url", local_mode.endpoint_url, "--table-name", table,
             "--item", json.dumps(item)],
            check=True, env=environment, capture_output=True, timeout=60,
        )  # fmt: skip
    else:
        local_mode.client("dynamodb").put_item(TableName=table, Item=item)


def test_the_runbook_gives_one_draft_for_test_user_8_and_an_event_without_email_for_test_user_1(
    local_mode: RunningLocalMode,
) -> None:
    sns, sqs = local_mode.client("sns"), local_mode.client("sqs")
    tap = sqs.create_queue(QueueName="e2e-event-tap")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(resources.EVENTS_TOPIC)]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=tap_arn, Attributes={"RawMessageDelivery": "true"})

    put_item_like_the_runbook(local_mode, RUNBOOK_TEST_USER_8)
    put_item_like_the_runbook(local_mode, RUNBOOK_TEST_USER_1)

    drafts = wait_for(lambda: emails_of(local_mode, "test-user-8"), timeout=20)
    assert len(drafts) == 1
    assert drafts[0]["status"]["S"] == "PENDING_REVIEW"
    assert drafts[0]["writer"]["S"] == "template"

    events: list[dict[str, Any]] = []

    def collect() -> list[tuple[str, str, str]]:
        for message in sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            events.append(
                {
                    "userId": body["client"]["userId"],
                    "type": body["type"],
                    "band": message["MessageAttributes"]["band"]["StringValue"],
                }
            )
            sqs.delete_message(QueueUrl=tap, ReceiptHandle=message["ReceiptHandle"])
        return sorted((e["userId"], e["type"], e["band"]) for e in events)

    assert wait_for(lambda: len(collect()) >= 2, timeout=20)
    put_item_like_the_runbook(local_mode, {**RUNBOOK_TEST_USER_8, "orderCount": {"N": "6"}})  # a new fact
    assert wait_for(lambda: len(collect()) >= 3, timeout=20)
    assert wait_for(lambda: len(api_get(local_mode, "/api/users/test-user-8")["recentDecisions"]) >= 2, timeout=20)
    time.sleep(2)  # a wrong second draft, a draft for test-user-1 or a looping event would have shown by now

    assert collect() == [
        ("test-user-1", "client.created", "moderate"),
        ("test-user-8", "client.created", "at_risk"),
        ("test-user-8", "client.updated", "at_risk"),
    ]  # the system's own writes (score, lastEmailDate) published nothing
    assert len(emails_of(local_mode, "test-user-8")) == 1
    assert emails_of(local_mode, "test-user-1") == []

    listed = api_get(local_mode, "/api/users/test-user-8/emails")
    assert [email["emailId"] for email in listed["items"]] == [drafts[0]["emailId"]["S"]]
    client = api_get(local_mode, "/api/users/test-user-8")
    assert [(d["reason"], d.get("emailId")) for d in client["recentDecisions"]] == [
        ("cooldown", None),  # the orderCount change, newest first
        ("eligible", drafts[0]["emailId"]["S"]),
    ]


def test_an_invalid_item_reaches_the_stream_dlq_with_its_reason(local_mode: RunningLocalMode) -> None:
    put_item_like_the_runbook(
        local_mode, {"userId": {"S": "bad-1"}, "email": {"S": "bad@example.com"}, "orderCount": {"S": "many"}}
    )
    sqs = local_mode.client("sqs")
    url = sqs.get_queue_url(QueueName=resources.STREAM_DLQ.name)["QueueUrl"]
    messages = wait_for(
        lambda: sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"]).get("Messages", []), timeout=20
    )
    assert messages[0]["MessageAttributes"]["field"]["StringValue"] == "orderCount"
    assert "dead-lettered to stream-dlq" in local_mode.console()


def test_the_http_api_refuses_requests_without_the_token(local_mode: RunningLocalMode) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(local_mode.api_url + "/api/users", timeout=10)
    assert refused.value.code == 401
    with urllib.request.urlopen(local_mode.api_url + "/health", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok"}


def test_the_smoke_test_passes_against_the_local_mode(local_mode: RunningLocalMode) -> None:
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    finished = subprocess.run(
        [sys.executable, "scripts/ops.py", "--endpoint-url", local_mode.endpoint_url, "--prefix", resources.PREFIX,
         "smoke", "--timeout", "30"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "smoke test passed" in finished.stdout
    assert "decision: eligible" in finished.stdout


def api_post(local_mode: RunningLocalMode, path: str, body: bytes = b"", token: bool = True) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {local_mode.token}"} if token else {}
    if path.startswith("/api/"):
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(local_mode.api_url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def decisions_of(local_mode: RunningLocalMode, user_id: str) -> list[str]:
    return [d["reason"] for d in api_get(local_mode, f"/api/users/{user_id}")["recentDecisions"]]


def test_unsubscribe_end_to_end_follow_the_link_then_no_email_when_eligible_again(local_mode: RunningLocalMode) -> None:
    client = {**RUNBOOK_TEST_USER_8, "userId": {"S": "unsub-1"}, "email": {"S": "unsub1@example.com"}}
    put_item_like_the_runbook(local_mode, client)
    [draft] = wait_for(lambda: emails_of(local_mode, "unsub-1"), timeout=20)

    status, body = api_post(local_mode, f"/api/emails/{draft['emailId']['S']}/approve", b'{"reviewer": "e2e"}')
    assert status == 200, body
    assert json.loads(body)["status"] == "SENT"
    [sent] = [e for e in api_get(local_mode, "/api/outbox")["items"] if e["userId"] == "unsub-1"]
    assert sent["sentHeaders"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = sent["sentHeaders"]["List-Unsubscribe"].strip("<>")
    assert link.startswith(local_mode.api_url + "/unsubscribe?")

    with urllib.request.urlopen(link, timeout=10) as page:  # the client follows the link
        assert b'<form method="post"' in page.read()
    status, page = api_post(local_mode, link.removeprefix(local_mode.api_url), token=False)
    assert (status, "You are unsubscribed" in page) == (200, True)

    # Make the client eligible again (a new fact, replacing the whole item as the original system does): no email.
    put_item_like_the_runbook(local_mode, {**client, "orderCount": {"N": "7"}})
    assert wait_for(lambda: "opted_out" in decisions_of(local_mode, "unsub-1"), timeout=20)
    assert len(emails_of(local_mode, "unsub-1")) == 1


def test_a_hard_bounce_from_ses_puts_the_address_on_the_suppression_list(local_mode: RunningLocalMode) -> None:
    bouncer = {**RUNBOOK_TEST_USER_8, "userId": {"S": "bouncer"}, "email": {"S": "bounce@simulator.amazonses.com"}}
    put_item_like_the_runbook(local_mode, bouncer)
    [draft] = wait_for(lambda: emails_of(local_mode, "bouncer"), timeout=20)

    status, _ = api_post(local_mode, f"/api/emails/{draft['emailId']['S']}/approve")
    assert status == 200

    dynamodb = local_mode.client("dynamodb")
    key = {"address": {"S": "bounce@simulator.amazonses.com"}}
    item = wait_for(lambda: dynamodb.get_item(TableName=resources.SUPPRESSIONS.name, Key=key).get("Item"), timeout=20)
    assert item["reason"]["S"] == "bounce:Permanent"
    assert item["events"]["N"] == "1"  # one bounce, reported once


def test_a_signed_shopify_order_reaches_the_orders_table_and_a_forged_one_is_refused(
    local_mode: RunningLocalMode,
) -> None:
    """Shopify's orders/create to the running local mode's /webhooks/shopify, signed with the secret it wrote to
    its env file: queued, handled by the store_webhooks function, recorded; the same body with a bad signature: 401."""
    exports = (local_mode.state_dir / "env").read_text()
    secret = exports.split("SHOPIFY_WEBHOOK_SECRET=", 1)[1].split()[0]
    body = json.dumps({
        "id": 880001, "email": "Grace.Hopper@Example.com", "processed_at": "2026-11-20T09:30:00-05:00", "test": False,
        "total_price": "64.00", "currency": "USD",
        "customer": {"id": 42, "email": "Grace.Hopper@Example.com", "first_name": "Grace", "last_name": "Hopper",
                     "created_at": "2024-05-01T10:00:00-04:00", "email_marketing_consent": {"state": "unsubscribed"}},
        "line_items": [{"product_id": 9001, "quantity": 2, "price": "32.00", "title": "Wool socks"}],
    }).encode()  # fmt: skip
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()

    def send(sign: str, webhook_id: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            local_mode.api_url + "/webhooks/shopify", data=body, method="POST",
            headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                     "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Hmac-Sha256": sign},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read())

    assert send(signature, "e2e-wh-1") == (
        200,
        {"status": "queued", "detail": "webhook e2e-wh-1 (orders/create) is queued"},
    )
    assert send(base64.b64encode(b"x" * 32).decode(), "e2e-wh-2")[0] == 401

    dynamodb = local_mode.client("dynamodb")
    key = {"userId": {"S": "shopify-42"}, "orderId": {"S": "880001"}}
    order = wait_for(lambda: dynamodb.get_item(TableName=resources.ORDERS.name, Key=key).get("Item"), timeout=30)
    assert (float(order["amount"]["N"]), order["source"]["S"]) == (64, "shopify")
    client = dynamodb.get_item(TableName=resources.USERS.name, Key={"userId": {"S": "shopify-42"}})["Item"]
    assert (client["email"]["S"], client["orderCount"]["N"], client["optedOut"]["BOOL"]) == (
        "grace.hopper@example.com", "1", True)  # unsubscribed in Shopify: no win-back email  # fmt: skip
    assert send(signature, "e2e-wh-1")[1]["status"] == "duplicate"  # Shopify's retry of the same webhook


def test_sigterm_stops_everything_cleanly(local_mode: RunningLocalMode) -> None:
    assert local_mode.stop() == 0
    assert local_mode.console().rstrip().endswith("stopped.")
    assert "Traceback" not in local_mode.console()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(local_mode.endpoint_url + "/moto-api/", timeout=2)


def test_make_demo_seeds_drains_and_summarises(tmp_path: Any) -> None:
    environment = local_mode_environment(tmp_path, free_port(), free_port(), "demo-token-0123456789abcdef")
    finished = subprocess.run(
        [sys.executable, "-m", "localmode", "demo", "--count", "20", "--seed", "7"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    summary = finished.stdout.split("Demo summary", 1)[1]
    assert "events published    20 (client.created 20" in summary
    assert "at-risk, no draft   0    drafts for others: 0" in summary
    assert re.search(r"order histories     \d{2,} orders of (19|20) clients \(1 to \d+ each", summary)
    assert "catalog             300 products in 12 categories" in summary
    # the co-purchase counts are built before the clients arrive, so the first drafts already show real products
    assert re.search(r"co-purchase counts: built from the last year's \d+ orders of \d+ clients", finished.stdout)
    assert re.search(r"product cards       \d+ with 3\b.*; picked as .*bought with \d+", summary)
    # twenty clients are too few for the churn model: the sweep says so, and the rule score stays
    assert re.search(r"churn model         none: too little data for a churn model: \d+ clients with a repeat order, "
                     r"200 needed", summary)  # fmt: skip
    dead_letter_queues = (
        "client-signals-dlq",
        "email-requests-dlq",
        "rescore-segments-dlq",
        "ses-feedback-dlq",
        "store-webhooks-dlq",
        "stream-dlq",
    )
    assert ", ".join(f"{name} 0" for name in dead_letter_queues) in summary


def test_with_a_key_the_local_mode_writes_with_the_llm_and_says_so(tmp_path: Any) -> None:
    from tests.fakes.llm_server import FakeLLM, running

    key = "sk-or-v1-e2e-secret-0123456789"
    with running(FakeLLM()) as fake:
        environment = local_mode_environment(tmp_path, free_port(), free_port(), "llm-token-0123456789abcdef")
        environment.update(OPENROUTER_API_KEY=key, LLM_BASE_URL=fake.base_url, LLM_MODEL="openai/gpt-4o-mini")
        finished = subprocess.run(
            [sys.executable, "-m", "localmode", "demo", "--count", "12", "--seed", "3"],
            cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    console = finished.stdout + finished.stderr
    assert finished.returncode == 0, console
    assert "email writer         LLM: openai/gpt-4o-mini at http://127.0.0.1" in console
    drafted = console.split("emails drafted", 1)[1].splitlines()[0]
    assert "(llm " in drafted
    assert "template" not in drafted
    assert fake.received
    assert fake.received[0].body["model"] == "openai/gpt-4o-mini"
    logs = "".join(path.read_text() for path in (tmp_path / "logs").glob("*.log"))
    assert "win-back email drafted" in logs
    assert key not in console + logs
    assert key[:12] not in console + logs


def test_a_taken_app_port_stops_the_start_with_a_message_naming_it(tmp_path: Any) -> None:
    aws_port, app_port = free_port(), free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", app_port))
        squatter.listen()
        finished = subprocess.run(
            [sys.executable, "-m", "localmode", "run"],
            cwd=REPO_ROOT, env=local_mode_environment(tmp_path, aws_port, app_port, "port-token-0123456789abcdef"),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert f"local mode could not start: port {app_port} cannot be used" in finished.stderr
    assert "LOCAL_APP_PORT" in finished.stderr
    assert "Traceback" not in finished.stderr
    with pytest.raises(urllib.error.URLError):  # nothing was started, so nothing is left running
        urllib.request.urlopen(f"http://127.0.0.1:{aws_port}/moto-api/", timeout=2)


def test_ctrl_c_while_clients_are_processed_lets_the_invocations_finish_then_stops_cleanly(tmp_path: Any) -> None:
    running = start_local_mode(tmp_path, "ctrl-c-token-0123456789abcdef", own_terminal=True)
    try:
        write_clients(running.client("dynamodb"), resources.USERS.name, generate_clients(300), progress=False)
        assert wait_for(lambda: "stream_processor" in running.console()), running.console()
        os.killpg(running.process.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
        assert running.process.wait(30) == 0, running.console()
    finally:
        if running.process.poll() is None:
            os.killpg(running.process.pid, signal.SIGKILL)  # the emulator and the workers too
    console = running.console()
    assert console.rstrip().endswith("stopped.")
    stopping = console.split("stopping…", 1)[1]
    assert "worker died" not in stopping  # the workers and the emulator leave Ctrl-C to the local mode
    assert "function error" not in stopping
    assert "Traceback" not in console
