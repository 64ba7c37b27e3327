"""An operator asks for a win-back draft for one client now (POST /api/users/{userId}/winback), on moto: refused
with the reason while consent, deliverability or the cooldown stand in the way, drafted by the pipeline's own path
once overridden, and one draft however often the same request is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.store.dynamo import from_item
from engagement.adapters.store.suppressions import SuppressionRepository
from engagement.domain.events import encode_event, event_from_change
from engagement.domain.models import EmailStatus
from tests.support.api import Answer, api_request
from tests.support.clock import FixedClock
from tests.support.events import batch, sqs_record
from tests.support.handlers import API_TOKEN, LambdaContext

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # inside the sending window in London


@pytest.fixture
def shop(load_handler: Callable[..., ModuleType], aws: dict[str, Any]) -> dict[str, Any]:
    clock = FixedClock(NOW)
    loaded: dict[str, Any] = {name: load_handler(name, clock=clock) for name in ("email_processor", "api")}
    return loaded | {"clock": clock, "aws": aws, "tables": aws["deployed"].tables}


def call(shop: dict[str, Any], method: str, path: str, body: Any = None) -> Answer:
    return api_request(shop["api"], method, path, json.dumps(body) if body is not None else None, token=API_TOKEN,
                       content_type="application/json", context=LambdaContext())  # fmt: skip


def ask(shop: dict[str, Any], user_id: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    status, answer = call(shop, "POST", f"/api/users/{user_id}/winback", body)[:2]
    return status, answer


def add_client(shop: dict[str, Any], user_id: str, *, last_order_days_ago: int = 300, **extra: Any) -> None:
    item = {"userId": {"S": user_id}, "email": {"S": f"{user_id}@example.com"}, "name": {"S": "Ada Lovelace"},
            "orderCount": {"N": "3"}, "averageOrderValue": {"N": "80"}, "createdAt": {"S": "2024-01-01T00:00:00Z"},
            "lastOrderDate": {"S": (NOW - timedelta(days=last_order_days_ago)).isoformat()},
            "timezone": {"S": "Europe/London"},
            **{name: {"BOOL": value} for name, value in extra.items()}}  # fmt: skip
    shop["aws"]["dynamodb"].put_item(TableName=shop["tables"]["users"], Item=item)


def pipeline_drafts_for(shop: dict[str, Any], user_id: str) -> None:
    """What the stream's event for this client does: the email processor drafts (or decides not to)."""
    item = shop["aws"]["dynamodb"].get_item(TableName=shop["tables"]["users"], Key={"userId": {"S": user_id}})["Item"]
    event = event_from_change(event_name="INSERT", event_id=f"evt-{user_id}", occurred_at=NOW, old_image=None,
                              new_image=from_item(item), now=NOW)  # fmt: skip
    assert event is not None
    shop["email_processor"].lambda_handler(batch(sqs_record(encode_event(event))), LambdaContext())


def deliver_queued_requests(shop: dict[str, Any]) -> int:
    """Hand whatever waits in the email processor's queue to it, as its event source mapping would."""
    sqs, url = shop["aws"]["sqs"], shop["aws"]["deployed"].queue_urls["email-requests"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    if messages:
        shop["email_processor"].lambda_handler(batch(*(sqs_record(m["Body"]) for m in messages)), LambdaContext())
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def emails_of(shop: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    status, page = call(shop, "GET", f"/api/users/{user_id}/emails")[:2]
    assert status == 200
    return list(page["items"])


def decisions_of(shop: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    status, client = call(shop, "GET", f"/api/users/{user_id}")[:2]
    assert status == 200
    return list(client["recentDecisions"])


def test_within_the_cooldown_a_request_is_refused_until_it_overrides_it_and_then_drafts_once(
    shop: dict[str, Any],
) -> None:
    add_client(shop, "ada")
    pipeline_drafts_for(shop, "ada")
    [first] = emails_of(shop, "ada")
    shop["clock"].advance(timedelta(days=2))

    status, refused = ask(shop, "ada", {"reason": "called the shop"})
    assert (status, refused["reason"]) == (409, "cooldown")
    assert "within the 7-day cooldown" in refused["message"]
    assert '"override": ["cooldown"]' in refused["message"]
    assert deliver_queued_requests(shop) == 0  # nothing was queued

    body = {"reason": "VIP called the shop", "requestId": "ask-1", "requestedBy": "ana", "override": ["cooldown"]}
    answers = []
    for _ in range(3):  # a double click, and a retry a little later
        answers.append(ask(shop, "ada", body))
        shop["clock"].advance(timedelta(seconds=5))
    assert {status for status, _ in answers} == {202}
    assert len({answer["emailId"] for _, answer in answers}) == 1
    assert {answer["correlationId"] for _, answer in answers} == {answers[0][1]["correlationId"]}
    assert deliver_queued_requests(shop) == 3

    emails = emails_of(shop, "ada")
    assert [email["emailId"] for email in emails] == [answers[0][1]["emailId"], first["emailId"]]  # newest first
    forced = emails[0]
    assert forced["status"] == EmailStatus.PENDING_REVIEW  # review mode: it waits for a reviewer like any draft
    assert forced["request"] == {"requestId": "ask-1", "requestedBy": "ana", "reason": "VIP called the shop",
                                 "overrides": ["cooldown"]}  # fmt: skip
    [decision] = [d for d in decisions_of(shop, "ada") if d["reason"] == "operator_request"]
    assert (decision["send"], decision["emailId"], decision["eventType"]) == (
        True, forced["emailId"], "client.winback_requested")  # fmt: skip
    assert decision["request"]["requestedBy"] == "ana"

    status, again = ask(shop, "ada", body)  # the same request once drafted: the draft, nothing queued
    assert (status, again["emailId"], again["status"]) == (200, forced["emailId"], "PENDING_REVIEW")
    assert deliver_queued_requests(shop) == 0
    assert len(emails_of(shop, "ada")) == 2


def test_consent_and_deliverability_cannot_be_overridden(shop: dict[str, Any]) -> None:
    add_client(shop, "opted-out", optedOut=True)
    add_client(shop, "flagged", suppressed=True)
    add_client(shop, "bounced")
    SuppressionRepository(shop["tables"]["suppressions"]).suppress(
        "bounced@example.com", reason="hard_bounce", at=NOW, source={"test": True}
    )
    everything = {"override": ["cooldown", "frequency_cap", "holdout"]}
    assert ask(shop, "opted-out", everything)[1]["reason"] == "opted_out"
    assert ask(shop, "flagged", everything)[1]["reason"] == "suppressed"
    status, bounced = ask(shop, "bounced", everything)
    assert (status, bounced["reason"]) == (409, "suppressed")
    assert "hard bounce or a complaint" in bounced["message"]
    assert deliver_queued_requests(shop) == 0


def test_a_deleted_client_is_refused_and_an_unknown_one_is_not_found(shop: dict[str, Any]) -> None:
    add_client(shop, "gone")
    pipeline_drafts_for(shop, "gone")
    assert call(shop, "DELETE", "/api/users/gone")[0] == 200
    status, refused = ask(shop, "gone", {"override": ["cooldown"]})
    assert (status, refused["reason"]) == (409, "deleted")
    assert ask(shop, "never-was")[0] == 404
    assert deliver_queued_requests(shop) == 0


def test_a_client_the_score_finds_well_can_still_be_asked_for_by_an_operator(shop: dict[str, Any]) -> None:
    add_client(shop, "regular", last_order_days_ago=5)
    pipeline_drafts_for(shop, "regular")
    assert emails_of(shop, "regular") == []  # the pipeline does not email a client who is well
    status, answer = ask(shop, "regular")
    assert status == 202
    assert deliver_queued_requests(shop) == 1
    [email] = emails_of(shop, "regular")
    assert email["emailId"] == answer["emailId"]
    assert email["request"]["requestedBy"] == "operator"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"override": ["consent"]}, "override"),
        ({"overrides": ["cooldown"]}, "overrides"),
        ({"requestId": "two words"}, "requestId"),
        ({"reason": "x" * 501}, "reason"),
        ({"requestedBy": "<script>"}, "requestedBy"),
    ],
)
def test_a_malformed_request_is_refused_naming_the_field(shop: dict[str, Any], body: Any, field: str) -> None:
    add_client(shop, "ada")
    status, refused = ask(shop, "ada", body)
    assert status == 422
    assert any(field in problem["field"] for problem in refused["errors"]), refused
    assert deliver_queued_requests(shop) == 0
