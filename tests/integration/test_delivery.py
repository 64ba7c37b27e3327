"""Delivery on moto: review, SES, quiet hours, consent, suppression, caps, holdout, conversion."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

import engagement.services.delivery
from engagement import bootstrap
from engagement.adapters.aws import client as aws_client
from engagement.adapters.secrets import RotatingKey
from engagement.adapters.store.dynamo import from_item
from engagement.bootstrap import Clients
from engagement.clock import format_instant
from engagement.domain.consent import UnsubscribeTokens
from tests.reliability.harness import COUNTER_FAULTS, CounterWriteFaults, Crash
from tests.support.api import Answer, api_request
from tests.support.aws import ScriptedSes
from tests.support.clock import FixedClock
from tests.support.events import RUNBOOK_TEST_USER_8, batch, client_values, message, sqs_record, stream_record
from tests.support.handlers import API_TOKEN, UNSUBSCRIBE_SECRET, rebuild

TOKEN = API_TOKEN
NOON_UTC = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 07:00 in New York, 13:00 in London


@pytest.fixture
def handlers(load_handler: Callable[..., ModuleType]) -> dict[str, ModuleType]:
    clock = FixedClock(NOON_UTC)
    ses = ScriptedSes(aws_client("sesv2", attempts=1))  # the API and the scheduler send through it
    loaded = {
        name: load_handler(name, clock=clock, clients=Clients(sesv2=ses))
        for name in ("email_processor", "api", "scheduled_sender", "client_signals")
    }
    loaded["ses_feedback"] = load_handler("ses_feedback")
    loaded["clock"] = clock  # type: ignore[assignment]
    loaded["ses"] = ses  # type: ignore[assignment]
    return loaded


def call(api: ModuleType, method: str, path: str, body: str = "", token: str | None = TOKEN,
         content_type: str = "application/json") -> Answer:  # fmt: skip
    return api_request(api, method, path, body or None, token=token, content_type=content_type, context=_Context())


class _Context:
    function_name = "api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def put_client(aws: dict[str, Any], item: dict[str, Any]) -> None:
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=item)


def draft(handlers: dict[str, ModuleType], aws: dict[str, Any], item: dict[str, Any], event_id: str = "evt-1") -> str:
    put_client(aws, item)
    handlers["email_processor"].lambda_handler(batch(message(item, event_id)), _Context())
    drafts = [e for e in emails(aws) if e["userId"] == item["userId"]["S"]]
    assert drafts, "no draft was written"
    return str(sorted(drafts, key=lambda e: e["createdAt"])[-1]["emailId"])


def emails(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return [from_item(i) for i in aws["dynamodb"].scan(TableName=aws["deployed"].tables["emails"])["Items"]]


def stored(aws: dict[str, Any], email_id: str) -> dict[str, Any]:
    key = {"emailId": {"S": email_id}}
    return from_item(aws["dynamodb"].get_item(TableName=aws["deployed"].tables["emails"], Key=key)["Item"])


def decisions(aws: dict[str, Any]) -> list[dict[str, Any]]:
    items = [from_item(i) for i in aws["dynamodb"].scan(TableName=aws["deployed"].tables["decisions"])["Items"]]
    return [i for i in items if i["decisionKey"].startswith("decision#")]


LONDON_CLIENT = {**RUNBOOK_TEST_USER_8, "timezone": {"S": "Europe/London"}}  # 13:00 there: inside the window


# ---- review, approve, send ----------------------------------------------------------------------------------


def test_an_approved_draft_goes_out_through_ses_with_its_unsubscribe_headers(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)

    status, body, _ = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve", '{"reviewer": "ada"}')

    assert status == 200
    assert body["status"] == "SENT"
    assert body["providerMessageId"]
    assert [(t["toStatus"], t["by"]) for t in body["transitions"]] == [
        ("PENDING_REVIEW", "writer:template"),
        ("SENDING", "operator:ada"),
        ("SENT", "operator:ada"),
    ]  # the approval is the claim itself: one write
    headers = body["sentHeaders"]
    assert headers["To"] == "test8@example.com"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<https://api.example.com/unsubscribe?")
    [outboxed] = call(handlers["api"], "GET", "/api/outbox")[1]["items"]
    assert outboxed["emailId"] == email_id


def test_a_review_sent_as_a_form_is_refused_not_read_as_no_body(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)

    status, body, _ = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve", '{"reviewer": "ada"}',
                           content_type="application/x-www-form-urlencoded")  # fmt: skip

    assert (status, body["message"]) == (415, "send the body as JSON, with Content-Type: application/json")
    assert stored(aws, email_id)["status"] == "PENDING_REVIEW"


def test_the_raw_mime_has_a_text_and_an_html_part_and_a_filled_unsubscribe_link(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = handlers["ses"].answer()  # type: ignore[attr-defined]
    email_id = draft(handlers, aws, LONDON_CLIENT)

    call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")

    [request] = sent
    assert request["ConfigurationSetName"].endswith("-emails")
    message_ = email.message_from_bytes(request["Content"]["Raw"]["Data"])
    assert message_.is_multipart()
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message_.walk()
        if not part.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "{{unsubscribe_url}}" not in parts["text/plain"] + parts["text/html"]
    assert "https://api.example.com/unsubscribe?" in parts["text/plain"]
    assert (
        message_["From"] == '"Northwind Apparel" <winback@shop.example.com>'
        or "winback@shop.example.com" in message_["From"]
    )


def test_approving_twice_sends_once_and_the_second_is_a_conflict(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)

    first = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")
    second = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")

    assert first[0] == 200
    assert second[:2] == (409, {"message": f"email {email_id} is SENT; it cannot become APPROVED"})
    assert sum(1 for t in stored(aws, email_id)["transitions"] if t["toStatus"] == "SENT") == 1


def test_reject_then_approve_is_refused(handlers: dict[str, ModuleType], aws: dict[str, Any]) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)

    status, body, _ = call(handlers["api"], "POST", f"/api/emails/{email_id}/reject", '{"reason": "off-brand"}')

    assert (status, body["status"], body["transitions"][-1]["reason"]) == (200, "REJECTED", "off-brand")
    assert call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[0] == 409
    assert call(handlers["api"], "POST", "/api/emails/nope/approve")[:2] == (404, {"message": "no email 'nope'"})
    assert call(handlers["api"], "POST", f"/api/emails/{email_id}/approve", token=None)[0] == 401


def test_outside_the_clients_sending_window_the_email_waits_and_the_scheduler_sends_it(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    new_yorker = {**RUNBOOK_TEST_USER_8, "timezone": {"S": "America/New_York"}}  # 07:00 there
    email_id = draft(handlers, aws, new_yorker)

    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]
    assert (body["status"], body["sendAt"]) == ("SCHEDULED", "2026-11-28T14:00:00.000Z")  # 09:00 in New York

    handlers["clock"].set(datetime(2026, 11, 28, 13, 59, tzinfo=UTC))  # type: ignore[attr-defined]
    assert handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())["handled"] == 0
    handlers["clock"].set(datetime(2026, 11, 28, 14, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    assert handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context()) == {
        "handled": 1, "outcome": {"SENT": 1}
    }  # fmt: skip
    assert stored(aws, email_id)["status"] == "SENT"


def test_ses_throttling_reschedules_and_the_email_still_goes_exactly_once(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail")
    handlers["ses"].answer(throttled)  # type: ignore[attr-defined]  # SES throttles this one call
    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]

    assert body["status"] == "SCHEDULED"
    assert body["transitions"][-1]["by"] == "ses"
    handlers["clock"].advance(timedelta(minutes=3))  # type: ignore[attr-defined]
    for _ in range(2):  # the scheduler runs again and again: one send
        handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())
    final = stored(aws, email_id)
    assert final["status"] == "SENT"
    assert sum(1 for t in final["transitions"] if t["toStatus"] == "SENDING") == 2  # one refused, one sent


def test_the_scheduled_sender_goes_by_the_email_not_by_an_index_entry_that_lags_behind_it(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The byStatus index is eventually consistent: its entry may still show a deferred email's earlier send time."""
    from engagement.domain.models import EmailStatus

    email_id = draft(handlers, aws, LONDON_CLIENT)
    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail")
    handlers["ses"].answer(throttled)  # type: ignore[attr-defined]
    call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")  # deferred: SCHEDULED, due in 2 minutes
    emails_seen = handlers["scheduled_sender"].services.delivery.emails
    lagging = [summary.model_copy(update={"send_at": NOON_UTC - timedelta(minutes=1)})
               for summary in emails_seen.in_status(EmailStatus.SCHEDULED)]  # fmt: skip
    monkeypatch.setattr(emails_seen, "in_status", lambda status: lagging if status is EmailStatus.SCHEDULED else [])
    calls = _ses_calls(handlers)

    handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())

    assert (stored(aws, email_id)["status"], calls) == ("SCHEDULED", [])  # not sent before its time


def test_a_message_ses_refuses_fails_with_its_reason(handlers: dict[str, ModuleType], aws: dict[str, Any]) -> None:
    sender = handlers["api"].config.sender_email
    unverified = handlers["api"].config.model_copy(update={"sender_email": "x@unverified.example.org"})
    rebuild(handlers["api"], config=unverified, clock=handlers["clock"])
    email_id = draft(handlers, aws, LONDON_CLIENT)

    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]

    assert body["status"] == "FAILED"
    assert "MessageRejected" in body["failureReason"]
    assert sender != "x@unverified.example.org"


def test_a_send_stuck_in_sending_is_failed_not_resent(handlers: dict[str, ModuleType], aws: dict[str, Any]) -> None:
    from engagement.domain.lifecycle import change
    from engagement.domain.models import EmailStatus

    email_id = draft(handlers, aws, LONDON_CLIENT)
    repo = handlers["api"].services.emails
    approved = repo.transition(
        email_id, change(EmailStatus.PENDING_REVIEW, EmailStatus.APPROVED, at=NOON_UTC, by="operator")
    )
    repo.transition(email_id, change(approved.status, EmailStatus.SENDING, at=NOON_UTC, by="operator"))  # then a crash

    handlers["clock"].set(NOON_UTC + timedelta(minutes=16))  # type: ignore[attr-defined]
    handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())

    final = stored(aws, email_id)
    assert final["status"] == "FAILED"
    assert "not resent" in final["failureReason"]


def _ses_calls(handlers: dict[str, Any], *outcomes: Exception | None, pause: float = 0.0) -> list[dict[str, Any]]:
    """Make SES answer with outcomes in turn (an exception, or None for the real send); record every call."""
    ses: ScriptedSes = handlers["ses"]
    return ses.answer(*outcomes, pause=pause)


def test_two_approvals_at_once_send_once(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engagement.domain.lifecycle import InvalidTransition

    delivery = handlers["api"].services.delivery
    calls = _ses_calls(handlers, pause=0.3)  # a slow SES: the second approval lands mid-send
    email_id = draft(handlers, aws, LONDON_CLIENT)
    outcomes: list[str] = []

    def approve(who: str) -> None:
        try:
            outcomes.append(delivery.approve(email_id, by=f"operator:{who}").status.value)
        except InvalidTransition as refused:
            outcomes.append(f"refused: {refused}")

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("ada", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1
    assert "SENT" in outcomes
    assert any(o.startswith("refused: ") for o in outcomes)
    assert [t["toStatus"] for t in stored(aws, email_id)["transitions"]].count("SENDING") == 1


def test_approving_an_email_being_sent_is_a_conflict_not_a_second_send(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    from engagement.domain.lifecycle import change
    from engagement.domain.models import EmailStatus

    email_id = draft(handlers, aws, LONDON_CLIENT)
    repo = handlers["api"].services.emails
    repo.transition(email_id, change(EmailStatus.PENDING_REVIEW, EmailStatus.APPROVED, at=NOON_UTC, by="operator"))
    repo.transition(email_id, change(EmailStatus.APPROVED, EmailStatus.SENDING, at=NOON_UTC, by="operator"))

    status, body, _ = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")

    assert (status, body["message"]) == (409, f"email {email_id} is SENDING; it cannot become APPROVED")


def test_a_lost_ses_answer_fails_the_email_as_uncertain_and_it_is_never_resent(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ReadTimeoutError

    calls = _ses_calls(handlers, ReadTimeoutError(endpoint_url="https://email.aws"))
    email_id = draft(handlers, aws, LONDON_CLIENT)

    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]
    handlers["clock"].advance(timedelta(hours=1))  # type: ignore[attr-defined]
    handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())

    assert (body["status"], body["deliveryUncertain"]) == ("FAILED", True)
    assert "outcome unknown" in body["failureReason"]
    assert len(calls) == 1
    assert stored(aws, email_id)["status"] == "FAILED"


@pytest.mark.parametrize(
    ("code", "status"), [("AccessDeniedException", "FAILED"), ("LimitExceededException", "SCHEDULED")]
)
def test_ses_errors_other_than_deferrals_are_refusals(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, code: str, status: str
) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "Send")
    _ses_calls(handlers, error)
    email_id = draft(handlers, aws, LONDON_CLIENT)

    assert call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]["status"] == status


def test_an_email_ses_keeps_deferring_fails_after_the_last_deferral(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engagement.services.delivery import MAX_DEFERRALS

    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail")
    calls = _ses_calls(handlers, *[throttled] * 20)
    email_id = draft(handlers, aws, LONDON_CLIENT)
    call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")

    for _ in range(MAX_DEFERRALS + 2):
        handlers["clock"].advance(timedelta(minutes=15))  # type: ignore[attr-defined]
        handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())

    final = stored(aws, email_id)
    assert final["status"] == "FAILED"
    assert final["failureReason"].startswith(f"deferred {MAX_DEFERRALS} times")
    assert len(calls) == MAX_DEFERRALS + 1


def test_if_the_signing_key_cannot_be_read_nothing_moves_and_the_scheduler_sends_it_later(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engagement.errors import TransientFailure

    email_id = draft(handlers, aws, LONDON_CLIENT)
    with monkeypatch.context() as patched:
        patched.setattr(bootstrap, "unsubscribe_tokens",
                        lambda *_: (_ for _ in ()).throw(TransientFailure("SSM throttled")))  # fmt: skip
        status = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[0]
    assert status == 503
    assert stored(aws, email_id)["status"] == "APPROVED"  # not stranded in SENDING

    handlers["clock"].advance(timedelta(minutes=3))  # type: ignore[attr-defined]
    handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())
    assert stored(aws, email_id)["status"] == "SENT"


def test_an_unsubscribe_that_lands_between_the_check_and_the_claim_still_stops_the_email(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = handlers["api"].services.delivery
    calls = _ses_calls(handlers)
    email_id = draft(handlers, aws, LONDON_CLIENT)
    real_build = engagement.services.delivery.build_message

    def build_then_unsubscribe(*args: Any, **kwargs: Any) -> Any:  # the client unsubscribes while we build
        delivery.suppressions.suppress("test8@example.com", reason="unsubscribed", at=NOON_UTC, source={})
        return real_build(*args, **kwargs)

    monkeypatch.setattr(engagement.services.delivery, "build_message", build_then_unsubscribe)
    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]

    assert (body["status"], body["transitions"][-1]["reason"]) == ("CANCELLED", "opted_out")
    assert calls == []


def test_a_deferral_that_falls_due_at_night_waits_for_the_morning(
    handlers: dict[str, ModuleType], aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail")
    _ses_calls(handlers, throttled)
    handlers["clock"].set(datetime(2026, 11, 28, 19, 59, tzinfo=UTC))  # type: ignore[attr-defined]  # London 19:59
    email_id = draft(handlers, aws, LONDON_CLIENT)
    assert call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]["status"] == "SCHEDULED"

    handlers["clock"].set(datetime(2026, 11, 28, 20, 5, tzinfo=UTC))  # type: ignore[attr-defined]  # due, but night
    handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())

    waiting = stored(aws, email_id)
    assert (waiting["status"], waiting["sendAt"]) == ("SCHEDULED", "2026-11-29T09:00:00.000Z")


def test_the_scheduler_stops_starting_sends_when_its_time_runs_out(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    new_yorker = {**RUNBOOK_TEST_USER_8, "timezone": {"S": "America/New_York"}}
    email_id = draft(handlers, aws, new_yorker)
    call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")
    handlers["clock"].set(datetime(2026, 11, 28, 14, 0, tzinfo=UTC))  # type: ignore[attr-defined]

    assert handlers["scheduled_sender"].services.delivery.send_due(time_left=lambda: 5.0) == []
    assert stored(aws, email_id)["status"] == "SCHEDULED"  # the next run sends it


def test_the_email_goes_to_the_clients_address_as_it_is_when_sent(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    put_client(aws, {**LONDON_CLIENT, "email": {"S": "new-address@example.com"}})

    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]

    assert (body["recipient"], body["sentHeaders"]["To"]) == ("new-address@example.com", "new-address@example.com")


# ---- consent ------------------------------------------------------------------------------------------------


def unsubscribe_link(handlers: dict[str, ModuleType], aws: dict[str, Any]) -> tuple[str, str]:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]
    link = body["sentHeaders"]["List-Unsubscribe"].strip("<>")
    parts = urlsplit(link)
    return parts.path + "?" + parts.query, email_id


def test_the_unsubscribe_link_shows_a_confirmation_and_a_post_opts_out_at_once(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    link, _ = unsubscribe_link(handlers, aws)
    handlers["clock"].advance(timedelta(days=8))  # type: ignore[attr-defined]  # past the cooldown: a new draft
    pending = draft(handlers, aws, {**LONDON_CLIENT, "orderCount": {"N": "6"}}, event_id="evt-later")

    status, page, _ = call(handlers["api"], "GET", link, token=None)
    assert status == 200
    assert '<form method="post"' in page
    assert "script" not in page.lower()
    assert stored(aws, pending)["status"] == "PENDING_REVIEW"  # a GET changes nothing (mail scanners follow links)

    status, page, _ = call(
        handlers["api"], "POST", link, token=None, body="", content_type="application/x-www-form-urlencoded"
    )
    assert (status, "You are unsubscribed" in page) == (200, True)
    client = from_item(aws["dynamodb"].get_item(TableName=aws["deployed"].tables["users"],
                                                Key={"userId": {"S": "test-user-8"}})["Item"])  # fmt: skip
    assert client["optedOut"] is True
    assert stored(aws, pending)["status"] == "CANCELLED"  # pending drafts included


def test_one_click_unsubscribe_works_without_the_page(handlers: dict[str, ModuleType], aws: dict[str, Any]) -> None:
    link, _ = unsubscribe_link(handlers, aws)
    status, _, _ = call(handlers["api"], "POST", link, token=None, body="List-Unsubscribe=One-Click",
                        content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert status == 200


@pytest.mark.parametrize("tamper", ["t", "u", "e", "k"])
def test_a_tampered_link_is_refused_and_changes_nothing(
    handlers: dict[str, ModuleType], aws: dict[str, Any], tamper: str
) -> None:
    link, _ = unsubscribe_link(handlers, aws)
    path, _, query = link.partition("?")
    values = {k: v[0] for k, v in parse_qs(query).items()}
    values[tamper] = values[tamper][:-2] + ("xy" if not values[tamper].endswith("xy") else "zz")
    forged = path + "?" + "&".join(f"{k}={v}" for k, v in values.items())

    assert call(handlers["api"], "GET", forged, token=None)[0] == 400
    assert call(handlers["api"], "POST", forged, token=None)[0] == 400
    client = from_item(aws["dynamodb"].get_item(TableName=aws["deployed"].tables["users"],
                                                Key={"userId": {"S": "test-user-8"}})["Item"])  # fmt: skip
    assert client.get("optedOut") is not True


def test_a_link_signed_for_another_client_with_this_clients_email_is_refused(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    """Even a genuine signature does not opt out a client the email was not sent to."""
    _, email_id = unsubscribe_link(handlers, aws)
    put_client(aws, {**LONDON_CLIENT, "userId": {"S": "other"}, "email": {"S": "other@example.com"}})
    parts = urlsplit(UnsubscribeTokens(UNSUBSCRIBE_SECRET.encode(), "https://api.example.com").url("other", email_id))

    assert call(handlers["api"], "POST", parts.path + "?" + parts.query, token=None)[0] == 400
    client = from_item(aws["dynamodb"].get_item(TableName=aws["deployed"].tables["users"],
                                                Key={"userId": {"S": "other"}})["Item"])  # fmt: skip
    assert client.get("optedOut") is not True


def test_rotating_the_key_in_ssm_keeps_sent_links_working_for_the_overlap(aws: dict[str, Any]) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/t/unsubscribe-secret", Value="the key before the rotation", Type="SecureString")
    ssm.put_parameter(Name="/t/unsubscribe-secret-previous", Value="unset", Type="SecureString")
    keys = RotatingKey("/t/unsubscribe-secret", "/t/unsubscribe-secret-previous", overlap=timedelta(days=60),
                       max_age=0)  # fmt: skip

    def tokens(at: datetime) -> UnsubscribeTokens:
        current, previous = keys.keys(at)
        assert current is not None
        return UnsubscribeTokens(current.encode(), "https://api.example.com", previous=(previous or "").encode())

    sent = {k: v[0] for k, v in parse_qs(urlsplit(tokens(datetime.now(UTC)).url("u-1", "e-1")).query).items()}
    # the rotation, as the README does it: the current value to the previous parameter, then a new current one
    ssm.put_parameter(Name="/t/unsubscribe-secret-previous", Value="the key before the rotation",
                      Type="SecureString", Overwrite=True)  # fmt: skip
    ssm.put_parameter(Name="/t/unsubscribe-secret", Value="the key after the rotation", Type="SecureString",
                      Overwrite=True)  # fmt: skip
    rotated_at = ssm.get_parameter(Name="/t/unsubscribe-secret")["Parameter"]["LastModifiedDate"]

    assert tokens(rotated_at + timedelta(days=59)).verify("u-1", "e-1", sent["t"], sent["k"])
    assert not tokens(rotated_at + timedelta(days=61)).verify("u-1", "e-1", sent["t"], sent["k"])


# ---- suppression --------------------------------------------------------------------------------------------

BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-11-28T12:00:00.000Z",
               "bouncedRecipients": [{"emailAddress": "Test8@Example.com", "status": "5.1.1"}], "feedbackId": "f-1"},
    "mail": {"messageId": "m-1", "timestamp": "2026-11-28T11:59:00.000Z", "source": "winback@shop.example.com",
             "destination": ["test8@example.com"]},
}  # fmt: skip
COMPLAINT = {
    "eventType": "Complaint",  # configuration-set event publishing, as in AWS
    "complaint": {"complainedRecipients": [{"emailAddress": "other@example.com"}], "timestamp": "2026-11-28T12:00:00Z",
                  "complaintFeedbackType": "abuse", "feedbackId": "f-2"},
    "mail": {"messageId": "m-2"},
}  # fmt: skip


def suppressed(aws: dict[str, Any], address: str) -> bool:
    key = {"address": {"S": address}}
    return "Item" in aws["dynamodb"].get_item(TableName=aws["deployed"].tables["suppressions"], Key=key)


def test_hard_bounces_and_complaints_suppress_soft_bounces_do_not_and_junk_is_dead_lettered(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    soft = {**BOUNCE, "bounce": {**BOUNCE["bounce"], "bounceType": "Transient",
                                 "bouncedRecipients": [{"emailAddress": "soft@example.com"}]}}  # fmt: skip
    in_envelope = {"Type": "Notification", "Message": json.dumps(COMPLAINT)}
    bodies = [
        json.dumps(BOUNCE),
        json.dumps(soft),
        json.dumps(in_envelope),
        "not json",
        json.dumps({"notificationType": "Bounce"}),
    ]

    assert handlers["ses_feedback"].lambda_handler(batch(*(sqs_record(b) for b in bodies)), _Context()) == {
        "batchItemFailures": []
    }

    assert suppressed(aws, "test8@example.com")  # lower-cased
    assert suppressed(aws, "other@example.com")
    assert not suppressed(aws, "soft@example.com")
    dlq = aws["deployed"].queue_urls["ses-feedback-dlq"]
    assert len(aws["sqs"].receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]) == 2


def test_a_suppressed_clients_drafts_are_not_sent_and_no_new_draft_is_written(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    handlers["ses_feedback"].lambda_handler(batch(sqs_record(json.dumps(BOUNCE))), _Context())

    body = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[1]
    assert (body["status"], body["transitions"][-1]["reason"]) == ("CANCELLED", "suppressed")

    handlers["clock"].advance(timedelta(days=8))  # type: ignore[attr-defined]
    put_client(aws, {**LONDON_CLIENT, "orderCount": {"N": "7"}})
    handlers["email_processor"].lambda_handler(batch(message(LONDON_CLIENT, "evt-2")), _Context())
    assert sorted(d["reason"] for d in decisions(aws)) == ["eligible", "suppressed"]


# ---- frequency cap, holdout, conversion ---------------------------------------------------------------------


def test_the_frequency_cap_holds_beyond_the_cooldown(handlers: dict[str, ModuleType], aws: dict[str, Any]) -> None:
    clock = handlers["clock"]
    for n in range(3):
        put_client(aws, LONDON_CLIENT)
        handlers["email_processor"].lambda_handler(batch(message(LONDON_CLIENT, f"evt-{n}")), _Context())
        clock.advance(timedelta(days=8))  # type: ignore[attr-defined]

    assert len(emails(aws)) == 2
    assert [d["reason"] for d in sorted(decisions(aws), key=lambda d: d["decidedAt"])] == [
        "eligible", "eligible", "frequency_cap"
    ]  # fmt: skip


def test_held_out_clients_get_a_decision_and_no_email_and_their_orders_count_for_the_holdout(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any]
) -> None:
    processor = load_handler("email_processor", HOLDOUT_PERCENT="100")
    signals = load_handler("client_signals")
    put_client(aws, LONDON_CLIENT)
    processor.lambda_handler(batch(message(LONDON_CLIENT, "evt-1")), _Context())
    processor.lambda_handler(batch(message(LONDON_CLIENT, "evt-1")), _Context())  # redelivered: counted once

    assert emails(aws) == []
    assert [d["reason"] for d in decisions(aws)] == ["held_out"]

    ordered = stream_record(
        "MODIFY", old=client_values("test-user-8", orderCount=5), new=client_values("test-user-8", orderCount=6)
    )
    order_event = _signal_message(ordered)
    for _ in range(2):  # redelivered: counted once
        signals.lambda_handler(batch(order_event), _Context())
    assert signals.services.service.conversions.decisions.conversion_counts() == {
        "emailed": 0, "emailedConverted": 0, "heldOut": 1, "heldOutConverted": 1
    }  # fmt: skip


def test_held_out_clients_meet_the_same_frequency_cap_as_emailed_ones(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any]
) -> None:
    clock = FixedClock(NOON_UTC)
    processor = load_handler("email_processor", clock=clock, HOLDOUT_PERCENT="100", FREQUENCY_CAP="2")
    put_client(aws, LONDON_CLIENT)

    for week in range(3):  # past the 7-day cooldown each time, inside the 30-day window
        processor.lambda_handler(batch(message(LONDON_CLIENT, f"evt-{week}")), _Context())
        clock.advance(timedelta(days=8))

    assert [d["reason"] for d in sorted(decisions(aws), key=lambda d: d["decisionKey"])] == [
        "held_out", "held_out", "frequency_cap"
    ]  # fmt: skip


def _signal_message(record: dict[str, Any]) -> dict[str, Any]:
    from engagement.domain.events import encode_event, event_from_change

    change = record["dynamodb"]
    event = event_from_change(
        event_name=record["eventName"], event_id=record["eventID"], occurred_at=datetime.now(UTC),
        old_image=from_item(change["OldImage"]) if "OldImage" in change else None,
        new_image=from_item(change["NewImage"]) if "NewImage" in change else None, now=datetime.now(UTC),
    )  # fmt: skip
    assert event is not None
    return sqs_record(encode_event(event))


def test_an_order_after_a_sent_email_converts_it_and_stats_show_emailed_versus_holdout(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")
    sent_at = stored(aws, email_id)["sentAt"]

    ordered = stream_record(
        "MODIFY", old=client_values("test-user-8", orderCount=5), new=client_values("test-user-8", orderCount=6)
    )
    record = _signal_message(ordered)
    body = json.loads(record["body"])
    body["occurredAt"] = format_instant(datetime.fromisoformat(sent_at.replace("Z", "+00:00")) + timedelta(days=3))
    handlers["client_signals"].lambda_handler(batch(sqs_record(json.dumps(body))), _Context())

    assert stored(aws, email_id)["convertedAt"] == body["occurredAt"]
    stats = call(handlers["api"], "GET", "/api/stats/conversion")[1]
    assert stats["emailed"] == {"count": 1, "converted": 1, "rate": 1.0}
    assert stats["heldOut"] == {"count": 0, "converted": 0, "rate": None}


@pytest.mark.parametrize("fault", COUNTER_FAULTS)
@pytest.mark.parametrize("group", ["emailed", "heldOut"])
def test_a_fault_at_a_conversions_count_is_made_good_by_the_redelivered_order(
    handlers: dict[str, ModuleType],
    load_handler: Callable[..., ModuleType],
    aws: dict[str, Any],
    fault: str,
    group: str,
) -> None:
    """Marking the email (or the held-out decision) converted and counting it are one write: if the function dies or
    DynamoDB refuses at that moment, the order's redelivery converts and counts it, once."""
    if group == "emailed":
        email_id = draft(handlers, aws, LONDON_CLIENT)
        call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")
    else:
        put_client(aws, LONDON_CLIENT)
        # on the tests' clock, as the order below is: a decision on the real clock would postdate it some days
        load_handler("email_processor", HOLDOUT_PERCENT="100", clock=handlers["clock"]).lambda_handler(
            batch(message(LONDON_CLIENT, "evt-1")), _Context()
        )
    handlers["clock"].advance(timedelta(days=3))  # type: ignore[attr-defined]
    order = stream_record(
        "MODIFY", old=client_values("test-user-8", orderCount=5), new=client_values("test-user-8", orderCount=6)
    )
    body = json.loads(_signal_message(order)["body"])
    body["occurredAt"] = format_instant(NOON_UTC + timedelta(days=3))
    signal = sqs_record(json.dumps(body))
    faults = CounterWriteFaults(COUNTER_FAULTS[fault])
    faults.arm()

    with faults.installed(), pytest.raises((Crash, BatchProcessingError)):  # the batch failed: Lambda retries it
        handlers["client_signals"].lambda_handler(batch(signal), _Context())
    assert faults.fired == 1
    handlers["client_signals"].lambda_handler(batch(signal), _Context())  # the redelivery
    handlers["client_signals"].lambda_handler(batch(signal), _Context())  # and a duplicate of it

    stats = call(handlers["api"], "GET", "/api/stats/conversion")[1]
    assert stats[group] == {"count": 1, "converted": 1, "rate": 1.0}


@pytest.mark.parametrize("fault", COUNTER_FAULTS)
def test_a_fault_at_a_sends_count_never_leaves_a_sent_email_uncounted(
    handlers: dict[str, ModuleType], aws: dict[str, Any], fault: str
) -> None:
    """SENT and the emailed counter are one write: whatever fails at that moment, the stats' emailed figure is the
    number of SENT emails. A send whose outcome could not be recorded is failed as uncertain, never resent."""
    email_id = draft(handlers, aws, LONDON_CLIENT)
    faults = CounterWriteFaults(COUNTER_FAULTS[fault])
    faults.arm()

    with faults.installed():
        try:
            status = call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")[0]
            assert status == 503
        except Crash:
            pass
    assert faults.fired == 1
    handlers["clock"].advance(timedelta(minutes=16))  # type: ignore[attr-defined]
    handlers["scheduled_sender"].lambda_handler({"action": "send-due"}, _Context())

    sent = [e for e in emails(aws) if e["status"] == "SENT"]
    stats = call(handlers["api"], "GET", "/api/stats/conversion")[1]
    assert stats["emailed"]["count"] == len(sent)
    assert stored(aws, email_id)["status"] == "FAILED"
    assert "not resent" in stored(aws, email_id)["failureReason"]


def test_an_order_more_than_30_days_after_the_email_converts_nothing(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")
    conversions = handlers["client_signals"].services.service.conversions
    assert conversions.order_placed("test-user-8", NOON_UTC + timedelta(days=31)) is None
    assert "convertedAt" not in stored(aws, email_id)


def test_an_order_recorded_through_the_api_converts_the_email_once(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    call(handlers["api"], "POST", f"/api/emails/{email_id}/approve")
    handlers["clock"].advance(timedelta(days=3))  # type: ignore[attr-defined]

    first = call(handlers["api"], "POST", "/api/users/test-user-8/orders",
                 json.dumps({"amount": 160, "orderedAt": "2026-11-30T10:00:00+01:00"}))  # fmt: skip
    second = call(handlers["api"], "POST", "/api/users/test-user-8/orders", json.dumps({"amount": 40}))

    assert (first[0], first[1]["attributedTo"], second[1]["attributedTo"]) == (201, email_id, email_id)
    client = second[1]["client"]
    assert (client["orderCount"], client["averageOrderValue"], client["lastOrderDate"]) == (
        7, 100.0, "2026-12-01T12:00:00.000Z")  # 5 at 100, then 160 and 40; the second order placed now  # fmt: skip
    assert stored(aws, email_id)["convertedAt"] == "2026-11-30T09:00:00.000Z"  # by the first order
    stats = call(handlers["api"], "GET", "/api/stats/conversion")[1]
    assert stats["emailed"] == {"count": 1, "converted": 1, "rate": 1.0}  # the email converted once


@pytest.mark.parametrize(
    ("path", "body", "status", "names"),
    [
        ("/api/users/nobody/orders", '{"amount": 10}', 404, "nobody"),
        ("/api/users/test-user-8/orders", "{}", 422, "amount"),
        ("/api/users/test-user-8/orders", '{"amount": 10, "orderedAt": "yesterday"}', 422, "orderedAt"),
        ("/api/users/test-user-8/orders", '{"amount": 10, "orderedAt": "2026-11-30T10:00:00"}', 422, "orderedAt"),
        ("/api/users/test-user-8/orders", '{"amount": 10, "orderedAt": "2026-11-28T13:00:00Z"}', 422, "future"),
        ("/api/users/test-user-8/orders", '{"amount": 10, "orderedAt": "0001-01-01T00:00:00Z"}', 422, "joined"),
        ("/api/emails/" + "x" * 2000 + "/approve", "", 414, "longer than 1024 bytes"),
    ],
)
def test_a_bad_order_is_refused_with_the_reason(
    handlers: dict[str, ModuleType], aws: dict[str, Any], path: str, body: str, status: int, names: str
) -> None:
    put_client(aws, LONDON_CLIENT)
    code, answer, _ = call(handlers["api"], "POST", path, body)
    assert code == status
    assert names in json.dumps(answer)


@pytest.mark.parametrize("how", ["opted_out", "deleted"])
def test_opt_outs_and_deletions_seen_on_the_stream_cancel_pending_drafts(
    handlers: dict[str, ModuleType], aws: dict[str, Any], how: str
) -> None:
    email_id = draft(handlers, aws, LONDON_CLIENT)
    values = client_values("test-user-8")
    record = (
        stream_record("MODIFY", old=values, new={**values, "optedOut": True})
        if how == "opted_out"
        else stream_record("REMOVE", old=values)
    )

    handlers["client_signals"].lambda_handler(batch(_signal_message(record)), _Context())

    final = stored(aws, email_id)
    assert (final["status"], final["transitions"][-1]["reason"]) == ("CANCELLED", how)


def test_the_stream_tags_orders_opt_outs_and_deletions_and_only_they_reach_client_signals(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any]
) -> None:
    stream = load_handler("stream_processor")
    values = client_values("u-1", engagementScore=30)
    stream.lambda_handler(
        batch(
            stream_record("MODIFY", old=values, new={**values, "orderCount": 5}),
            stream_record("MODIFY", old=values, new={**values, "name": "Ada King"}),
            stream_record("REMOVE", old=values),
        ),
        _Context(),
    )
    url = aws["deployed"].queue_urls["client-signals"]
    received = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(tuple(json.loads(m["Body"])["signals"]) for m in received) == [("deleted",), ("order_placed",)]


# ---- auto mode ----------------------------------------------------------------------------------------------


def test_in_auto_mode_a_draft_goes_out_at_once_or_waits_for_quiet_hours(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any]
) -> None:
    clock = FixedClock(NOON_UTC)
    processor = load_handler("email_processor", clock=clock, DELIVERY_MODE="auto")
    put_client(aws, LONDON_CLIENT)
    new_yorker = {**RUNBOOK_TEST_USER_8, "userId": {"S": "ny"}, "email": {"S": "ny@example.com"},
                  "timezone": {"S": "America/New_York"}}  # fmt: skip
    put_client(aws, new_yorker)

    processor.lambda_handler(batch(message(LONDON_CLIENT, "evt-1"), message(new_yorker, "evt-2")), _Context())

    by_user = {e["userId"]: e for e in emails(aws)}
    assert by_user["test-user-8"]["status"] == "SENT"
    assert (by_user["ny"]["status"], by_user["ny"]["sendAt"]) == ("SCHEDULED", "2026-11-28T14:00:00.000Z")
    assert sorted(d["reason"] for d in decisions(aws)) == ["eligible", "quiet_hours"]


def test_an_unsubscribe_survives_an_upstream_put_that_replaces_the_client(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    link, _ = unsubscribe_link(handlers, aws)
    call(handlers["api"], "POST", link, token=None)
    handlers["clock"].advance(timedelta(days=8))  # type: ignore[attr-defined]  # past the cooldown
    replaced = {**LONDON_CLIENT, "orderCount": {"N": "6"}}  # the original system's put-item: no optedOut
    put_client(aws, replaced)

    handlers["email_processor"].lambda_handler(batch(message(replaced, "evt-after")), _Context())

    assert [e["status"] for e in emails(aws)] == ["SENT"]  # no new draft
    assert sorted(d["reason"] for d in decisions(aws)) == ["eligible", "opted_out"]
