"""The email processor on moto: events in, decisions and win-back drafts out, at most one per cooldown."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from engagement.adapters.store.dynamo import from_item
from engagement.clock import format_instant
from engagement.domain.events import encode_event
from engagement.errors import TransientFailure
from engagement.services.winback import WinbackService
from tests.support.clock import FixedClock
from tests.support.events import (
    RUNBOOK_TEST_USER_1,
    RUNBOOK_TEST_USER_8,
    batch,
    client_values,
    event_for,
    message,
    sqs_record,
    to_image,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("email_processor", clock=FixedClock(NOW))


def put_client(aws: dict[str, Any], values: dict[str, Any] | None = None, raw: dict[str, Any] | None = None) -> None:
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=raw or to_image(values or {}))


def scan(aws: dict[str, Any], table: str) -> list[dict[str, Any]]:
    items = [from_item(i) for i in aws["dynamodb"].scan(TableName=aws["deployed"].tables[table])["Items"]]
    if table == "decisions":  # decisions only, not the clients' email slots
        items = [i for i in items if i["decisionKey"].startswith("decision#")]
    return items


def slot(aws: dict[str, Any], user_id: str) -> dict[str, Any]:
    key = {"userId": {"S": user_id}, "decisionKey": {"S": "email-slot"}}
    return from_item(aws["dynamodb"].get_item(TableName=aws["deployed"].tables["decisions"], Key=key).get("Item", {}))


def user(aws: dict[str, Any], user_id: str) -> dict[str, Any]:
    key = {"userId": {"S": user_id}}
    return from_item(aws["dynamodb"].get_item(TableName=aws["deployed"].tables["users"], Key=key)["Item"])


def dead_letters(aws: dict[str, Any]) -> list[dict[str, Any]]:
    url = aws["deployed"].queue_urls["email-requests-dlq"]
    return (
        aws["sqs"]
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )


def crash(*_: Any, **__: Any) -> Any:
    raise TransientFailure("the process died here")


def deliver_with_a_crash(
    handler: ModuleType, context: Any, monkeypatch: pytest.MonkeyPatch, target: Any, method: str, record: Any
) -> None:
    """Deliver one message while target.method fails as if the process died there; then it works again."""
    with monkeypatch.context() as patched:
        patched.setattr(target, method, crash)
        with pytest.raises(BatchProcessingError):  # the whole (one-message) batch failed: SQS will redeliver it
            handler.lambda_handler(batch(record), context)


def test_the_runbooks_at_risk_client_gets_exactly_one_draft(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)

    assert handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8)), lambda_context) == {"batchItemFailures": []}

    [email] = scan(aws, "emails")
    assert email["userId"] == "test-user-8"
    assert email["status"] == "PENDING_REVIEW"
    assert email["writer"] == "template"
    assert email["recipient"] == "test8@example.com"
    assert email["engagementScoreAtTime"] == 30
    assert "Test" in email["textContent"]
    assert email["subject"]
    assert email["content"].startswith("<!doctype html>")
    client = user(aws, "test-user-8")
    assert client["lastEmailDate"] == format_instant(NOW)
    assert client["lastEmailId"] == email["emailId"]
    [decision] = scan(aws, "decisions")
    assert (decision["send"], decision["reason"], decision["emailId"]) == (True, "eligible", email["emailId"])


def test_the_decision_is_made_on_the_current_item_not_the_events_copy(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    put_client(aws, raw={**RUNBOOK_TEST_USER_8, "engagementScore": {"N": "80"}})  # recovered since the event

    handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8)), lambda_context)

    assert scan(aws, "emails") == []
    assert [d["reason"] for d in scan(aws, "decisions")] == ["not_at_risk"]


def test_the_same_message_delivered_three_times_makes_one_email(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    same = message(RUNBOOK_TEST_USER_8, message_id="m-1")

    for receive in (1, 2, 3):
        handler.lambda_handler(
            batch({**same, "attributes": {**same["attributes"], "ApproximateReceiveCount": str(receive)}}),
            lambda_context,
        )

    assert len(scan(aws, "emails")) == 1
    assert [(d["send"], d["reason"]) for d in scan(aws, "decisions")] == [(True, "eligible")]


def test_a_second_event_within_the_cooldown_is_skipped_with_its_reason(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)

    handler.lambda_handler(
        batch(message(RUNBOOK_TEST_USER_8, "evt-1"), message(RUNBOOK_TEST_USER_8, "evt-2")), lambda_context
    )

    assert len(scan(aws, "emails")) == 1
    assert sorted(d["reason"] for d in scan(aws, "decisions")) == ["cooldown", "eligible"]


def test_after_the_cooldown_the_client_can_be_emailed_again(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8, "evt-1")), lambda_context)
    handler.services.service.clock.set(NOW + timedelta(days=7, seconds=1))

    handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8, "evt-2")), lambda_context)

    assert len(scan(aws, "emails")) == 2


def test_a_message_redriven_after_the_cooldown_replaces_its_skip_and_the_counts_follow(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    """evt-2 was skipped (cooldown); redriven from the DLQ after the cooldown, it is decided again and emails. Its
    decision is replaced, not added to, and the overview's counts move with it: they equal the stored decisions."""
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    for event_id in ("evt-1", "evt-2"):  # one after the other: evt-1 emails, evt-2 meets the cooldown
        handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8, event_id)), lambda_context)
    decisions = handler.services.service.decisions
    assert (decisions.counters()["decided_eligible"], decisions.counters()["decided_cooldown"]) == (1, 1)

    handler.services.service.clock.set(NOW + timedelta(days=8))
    for _ in range(2):  # the redrive, and a duplicate of it
        handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8, "evt-2")), lambda_context)

    assert sorted(d["reason"] for d in scan(aws, "decisions")) == ["eligible", "eligible"]
    assert len(scan(aws, "emails")) == 2
    counters = decisions.counters()
    assert (counters["decided_eligible"], counters["decided_cooldown"]) == (2, 0)


def test_two_processors_racing_on_one_client_make_one_email(handler: ModuleType, aws: dict[str, Any]) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    first: WinbackService = handler.services.service
    # The second processor read the client and its email slot before the first claimed the slot.
    stale_client, stale_history = first.users.get("test-user-8"), first.decisions.email_history("test-user-8")

    class StaleUsers(type(first.users)):  # type: ignore[misc]
        def get(self, user_id: str, *, consistent: bool = True) -> Any:
            return stale_client

    class StaleDecisions(type(first.decisions)):  # type: ignore[misc]
        def email_history(self, user_id: str) -> Any:
            return stale_history

    second = WinbackService(
        users=StaleUsers(first.users.table_name), emails=first.emails,
        decisions=StaleDecisions(first.decisions.table_name),
        writer=first.writer, brand=first.brand, rules=first.rules, clock=first.clock,
        suppressions=first.suppressions, models=first.models,
    )  # fmt: skip

    first.handle_event(event_for(RUNBOOK_TEST_USER_8, "evt-a"))
    outcome = second.handle_event(event_for(RUNBOOK_TEST_USER_8, "evt-b"))

    assert len(scan(aws, "emails")) == 1
    assert outcome is not None
    assert outcome.reason == "cooldown"  # its claim lost: the conditional write refused it


def test_a_crash_after_claiming_the_slot_is_finished_by_the_retry_without_a_duplicate(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    first = message(RUNBOOK_TEST_USER_8, message_id="m-1")
    deliver_with_a_crash(handler, lambda_context, monkeypatch, handler.services.service.writer, "write", first)
    assert scan(aws, "emails") == []
    assert slot(aws, "test-user-8")["lastEmailId"]  # the slot is held...

    handler.services.service.clock.set(NOW + timedelta(minutes=2))
    assert handler.lambda_handler(batch(first), lambda_context) == {"batchItemFailures": []}

    [email] = scan(aws, "emails")  # ...and the redelivery finishes the job
    assert email["emailId"] == user(aws, "test-user-8")["lastEmailId"]
    assert [d["reason"] for d in scan(aws, "decisions")] == ["eligible"]


def test_a_late_redelivery_of_a_crashed_claim_starts_the_cooldown_when_the_email_is_written(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    first = message(RUNBOOK_TEST_USER_8, "evt-1", message_id="m-1")
    deliver_with_a_crash(handler, lambda_context, monkeypatch, handler.services.service.writer, "write", first)

    later = NOW + timedelta(days=8)  # redriven from the DLQ a week later
    handler.services.service.clock.set(later)
    handler.lambda_handler(batch(first), lambda_context)
    assert slot(aws, "test-user-8")["lastEmailDate"] == format_instant(later)

    changed = {**RUNBOOK_TEST_USER_8, "orderCount": {"N": "6"}}
    put_client(aws, raw=changed)  # an upstream put erases lastEmailDate on the item...
    handler.services.service.clock.set(later + timedelta(minutes=1))
    handler.lambda_handler(batch(message(changed, "evt-2")), lambda_context)

    assert len(scan(aws, "emails")) == 1  # ...but the slot still says: emailed a minute ago
    assert sorted(d["reason"] for d in scan(aws, "decisions")) == ["cooldown", "eligible"]


def test_a_redelivered_claim_for_a_client_who_opted_out_meanwhile_writes_nothing_and_frees_the_slot(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    first = message(RUNBOOK_TEST_USER_8, "evt-1", message_id="m-1")
    deliver_with_a_crash(handler, lambda_context, monkeypatch, handler.services.service.writer, "write", first)
    put_client(aws, raw={**RUNBOOK_TEST_USER_8, "optedOut": {"BOOL": True}})

    handler.lambda_handler(batch(first), lambda_context)

    assert scan(aws, "emails") == []
    assert slot(aws, "test-user-8") == {}
    assert [d["reason"] for d in scan(aws, "decisions")] == ["opted_out"]


def test_a_crash_between_the_draft_and_last_email_date_is_repaired_without_a_duplicate(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    first = message(RUNBOOK_TEST_USER_8, message_id="m-1")
    deliver_with_a_crash(handler, lambda_context, monkeypatch, handler.services.service.users, "mark_emailed", first)
    assert len(scan(aws, "emails")) == 1
    assert "lastEmailDate" not in user(aws, "test-user-8")

    assert handler.lambda_handler(batch(first), lambda_context) == {"batchItemFailures": []}

    [email] = scan(aws, "emails")
    assert user(aws, "test-user-8")["lastEmailId"] == email["emailId"]
    assert [d["reason"] for d in scan(aws, "decisions")] == ["eligible"]


def test_an_upstream_put_that_erases_last_email_date_does_not_reopen_the_cooldown(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8, "evt-1")), lambda_context)
    changed = {**RUNBOOK_TEST_USER_8, "orderCount": {"N": "6"}}
    put_client(aws, raw=changed)  # the whole item replaced, as the original system's put-item does
    assert "lastEmailDate" not in user(aws, "test-user-8")

    handler.lambda_handler(batch(message(changed, "evt-2")), lambda_context)

    assert len(scan(aws, "emails")) == 1
    assert sorted(d["reason"] for d in scan(aws, "decisions")) == ["cooldown", "eligible"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"optedOut": {"BOOL": True}}, "opted_out"), ({"suppressed": {"BOOL": True}}, "suppressed"),
     ({"lastEmailDate": {"S": format_instant(NOW - timedelta(days=2))}}, "cooldown")],  # set by an operator
)  # fmt: skip
def test_clients_who_must_not_be_emailed_get_a_recorded_reason(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, changes: dict[str, Any], reason: str
) -> None:
    put_client(aws, raw={**RUNBOOK_TEST_USER_8, **changes})

    handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8)), lambda_context)

    assert scan(aws, "emails") == []
    [decision] = scan(aws, "decisions")
    assert (decision["send"], decision["reason"], decision["eventId"]) == (False, reason, "evt-1")


def test_a_client_deleted_before_the_message_arrives_is_recorded_as_missing(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8)), lambda_context)
    assert [d["reason"] for d in scan(aws, "decisions")] == ["client_missing"]
    assert scan(aws, "users") == []  # no item is created by the processor


def test_a_deleted_event_never_makes_an_email(handler: ModuleType, aws: dict[str, Any], lambda_context: Any) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    deleted = sqs_record(encode_event(event_for(RUNBOOK_TEST_USER_8, event_name="REMOVE")))

    handler.lambda_handler(batch(deleted), lambda_context)

    assert scan(aws, "emails") == []


def test_bad_messages_are_dead_lettered_with_their_reason_and_the_batch_goes_on(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    put_client(aws, raw={**RUNBOOK_TEST_USER_1, "orderCount": {"S": "lots"}})  # the current item is invalid
    bodies = {
        "body": "this is not JSON",
        "version": json.dumps({"version": 2, "id": "evt-future", "type": "client.updated"}),
        "orderCount": encode_event(event_for(RUNBOOK_TEST_USER_1, "evt-1b")),
    }
    good = message(RUNBOOK_TEST_USER_8)

    response = handler.lambda_handler(batch(*(sqs_record(b) for b in bodies.values()), good), lambda_context)

    assert response == {"batchItemFailures": []}
    assert [e["userId"] for e in scan(aws, "emails")] == ["test-user-8"]
    dead = {m["MessageAttributes"]["field"]["StringValue"]: m for m in dead_letters(aws)}
    assert set(dead) == set(bodies)
    for field, letter in dead.items():
        assert letter["Body"] == bodies[field]  # unchanged, so it can be redriven once fixed
        assert field in letter["MessageAttributes"]["reason"]["StringValue"]
        assert letter["MessageAttributes"]["source"]["StringValue"] == "email_processor"


def test_a_transient_failure_is_reported_for_retry_and_the_rest_go_on(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_client(aws, raw=RUNBOOK_TEST_USER_8)
    put_client(aws, values=client_values("other", engagementScore=20))
    real_get = handler.services.service.users.get

    def throttled(user_id: str, **kwargs: Any) -> Any:
        if user_id == "other":
            raise TransientFailure("read client other: ProvisionedThroughputExceededException")
        return real_get(user_id, **kwargs)

    monkeypatch.setattr(handler.services.service.users, "get", throttled)
    other = message(client_values_item("other"), "evt-9", message_id="m-other")

    response = handler.lambda_handler(batch(message(RUNBOOK_TEST_USER_8), other), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-other"}]}
    assert [e["userId"] for e in scan(aws, "emails")] == ["test-user-8"]
    assert dead_letters(aws) == []


def client_values_item(user_id: str) -> dict[str, Any]:
    return to_image(client_values(user_id, engagementScore=20))
