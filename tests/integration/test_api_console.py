"""The operator's API on moto: clients (add, change, remove, orders), edits, stats, pipeline, OpenAPI, dashboard."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.aws import client as aws_client
from engagement.bootstrap import Clients
from engagement.errors import TransientFailure
from localmode.lambda_events import http_api_event
from stack import resources
from tests.support.api import Answer, api_request
from tests.support.clock import FixedClock
from tests.support.events import RUNBOOK_TEST_USER_8, batch, client_values, message, to_image
from tests.support.handlers import API_TOKEN, rebuild

TOKEN = API_TOKEN
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
Call = Callable[..., tuple[int, Any, dict[str, str]]]


@pytest.fixture
def api(load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("api", clock=FixedClock(NOW))


@pytest.fixture
def call(api: ModuleType, lambda_context: Any) -> Call:
    def request(method: str, path: str, body: Any = None, *, token: str | None = TOKEN,
                event_changes: dict[str, Any] | None = None) -> Answer:  # fmt: skip
        return api_request(api, method, path, body, token=token, request_context=event_changes, context=lambda_context)

    return request


def put_client(aws: dict[str, Any], user_id: str, **values: Any) -> None:
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(client_values(user_id, **values)))


def stored(aws: dict[str, Any], user_id: str) -> dict[str, Any] | None:
    item = aws["dynamodb"].get_item(TableName=aws["deployed"].tables["users"], Key={"userId": {"S": user_id}})
    return item.get("Item")


def fields_named(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body.get("errors", [])}


# ---- clients --------------------------------------------------------------------------------------------------

NEW_CLIENT = {"userId": "ada-1", "email": "ada@example.com", "name": "Ada Lovelace", "orderCount": 3,
              "createdAt": "2025-01-10T09:00:00Z",
              "averageOrderValue": 80, "lastOrderDate": "2026-05-01T10:00:00+02:00",
              "preferredCategories": ["knitwear"], "timezone": "Europe/London"}  # fmt: skip


def test_a_client_is_added_shown_changed_and_removed(call: Call, aws: dict[str, Any]) -> None:
    status, created, _ = call("POST", "/api/users", NEW_CLIENT)
    assert status == 201
    assert (created["userId"], created["lastOrderDate"], created["createdAt"]) == (
        "ada-1", "2026-05-01T08:00:00.000Z", "2025-01-10T09:00:00.000Z")  # as given; now when absent  # fmt: skip
    assert created["score"]["band"] == "at_risk"

    status, changed, _ = call("PATCH", "/api/users/ada-1", {"name": "Ada King", "engagementScore": 90})
    assert (status, changed["name"], changed["score"]) == (200, "Ada King", {"value": 90.0, "band": "good",
                                                                              "source": "provided"})  # fmt: skip
    status, changed, _ = call("PATCH", "/api/users/ada-1", {"engagementScore": None})  # the override removed
    assert (status, "engagementScore" in changed, changed["score"]["source"]) == (200, False, "computed")

    assert call("DELETE", "/api/users/ada-1")[:2] == (200, {"userId": "ada-1", "deleted": True})
    assert stored(aws, "ada-1") is None
    assert call("DELETE", "/api/users/ada-1")[0] == 404


def test_without_a_user_id_one_is_made_and_a_taken_one_is_a_conflict(call: Call) -> None:
    status, created, _ = call("POST", "/api/users", {"email": "bo@example.com", "name": "Bo"})
    assert status == 201
    assert len(created["userId"]) == 36
    assert call("POST", "/api/users", NEW_CLIENT)[0] == 201
    assert call("POST", "/api/users", NEW_CLIENT)[:2] == (409, {"message": "client 'ada-1' exists already"})


def test_null_facts_on_a_new_client_are_left_out(call: Call, aws: dict[str, Any]) -> None:
    body = {**NEW_CLIENT, "orderCount": None, "averageOrderValue": None, "timezone": None}
    status, created, _ = call("POST", "/api/users", body)
    assert status == 201
    assert "problem" not in created
    assert (created["orderCount"], created["averageOrderValue"], "timezone" in created) == (0, 0, False)
    item = stored(aws, "ada-1")
    assert item is not None
    assert "timezone" not in item


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**NEW_CLIENT, "email": "not-an-address"}, {"email"}),
        ({**NEW_CLIENT, "orderCount": -1, "engagementScore": 101}, {"orderCount", "engagementScore"}),
        ({**NEW_CLIENT, "timezone": "Mars/Olympus"}, {"timezone"}),
        ({**NEW_CLIENT, "lastOrderDate": "2026-05-01"}, {"lastOrderDate"}),  # no time, no offset
        ({**NEW_CLIENT, "lastOrderDate": "2027-01-01T00:00:00Z"}, {"lastOrderDate"}),  # in the future
        ({**NEW_CLIENT, "isAdmin": True}, {"isAdmin"}),
        ({**NEW_CLIENT, "userId": "a/b"}, {"userId"}),
        ({"name": "No Address"}, {"email"}),
        ({**NEW_CLIENT, "email": '"Boss"<attacker@example.com>'}, {"email"}),  # a display name
        ({**NEW_CLIENT, "email": "a,b@example.com"}, {"email"}),  # a list
        ({**NEW_CLIENT, "email": "ada@example.com (the boss)"}, {"email"}),  # a comment
        ({**NEW_CLIENT, "email": "a" * 40_000 + "@example.com"}, {"email"}),  # longer than 254
        ({**NEW_CLIENT, "preferredCategories": ["c" * 41]}, {"preferredCategories"}),
    ],
)
def test_a_bad_client_is_refused_naming_each_field(
    call: Call, aws: dict[str, Any], body: Any, fields: set[str]
) -> None:
    status, answer, _ = call("POST", "/api/users", body)
    assert status == 422
    assert fields <= fields_named(answer), answer
    assert stored(aws, "ada-1") is None


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [({}, 422, {"body"}), ({"name": None}, 422, {"name"}), ({"email": "x"}, 422, {"email"}),
     ({"orderCount": "many"}, 422, {"orderCount"})],
)  # fmt: skip
def test_a_bad_change_is_refused_and_changes_nothing(
    call: Call, aws: dict[str, Any], body: Any, status: int, fields: set[str]
) -> None:
    call("POST", "/api/users", NEW_CLIENT)
    code, answer, _ = call("PATCH", "/api/users/ada-1", body)
    assert code == status
    assert fields <= fields_named(answer), answer
    assert call("GET", "/api/users/ada-1")[1]["name"] == "Ada Lovelace"
    assert call("PATCH", "/api/users/nobody", {"name": "X"})[0] == 404


def test_clients_are_filtered_by_band_and_found_by_name_or_email_prefix(call: Call, aws: dict[str, Any]) -> None:
    for i in range(30):  # more than a page, so the filter has to go on with the cursor
        put_client(aws, f"u-{i:02}", engagementScore=20 if i % 3 == 0 else 80, name=f"Client {i:02}",
                   email=f"c{i:02}@example.com")  # fmt: skip
    put_client(aws, "ada", engagementScore=40, name="Ada Lovelace", email="countess@example.com")

    critical, cursor = [], None
    while True:
        page = call("GET", "/api/users?band=critical&limit=4" + (f"&cursor={cursor}" if cursor else ""))[1]
        critical += [client["userId"] for client in page["items"]]
        assert all(client["score"]["band"] == "critical" for client in page["items"])
        if not (cursor := page["nextCursor"]):
            break
    assert sorted(critical) == [f"u-{i:02}" for i in range(0, 30, 3)]  # each once

    assert [c["userId"] for c in call("GET", "/api/users?q=LOVE")[1]["items"]] == ["ada"]  # a name word, any case
    assert [c["userId"] for c in call("GET", "/api/users?q=countess@")[1]["items"]] == ["ada"]  # an email prefix
    assert call("GET", "/api/users?band=purple")[0] == 422
    assert call("GET", "/api/users?q=%20%20")[0] == 422  # a blank search is not "everyone"


def test_an_order_updates_the_client_atomically_and_converts_the_email(call: Call, aws: dict[str, Any]) -> None:
    call("POST", "/api/users", NEW_CLIENT)  # 3 orders, average 80

    status, answer, _ = call("POST", "/api/users/ada-1/orders", {"amount": 120, "orderedAt": "2026-11-28T10:00:00Z"})

    assert status == 201
    client = answer["client"]
    assert (client["orderCount"], client["averageOrderValue"], client["lastOrderDate"], client["totalSpent"]) == (
        4, 90.0, "2026-11-28T10:00:00.000Z", 360)  # the upstream writer's 3 x 80, then 120  # fmt: skip
    assert (answer["order"]["amount"], answer["order"]["currency"], answer["order"]["source"]) == (120, "USD", "api")
    assert client["score"]["band"] in ("moderate", "good")  # a recent order lifts the client out of risk
    assert answer["attributedTo"] is None  # no email was sent before it


def test_an_order_sent_again_with_its_id_counts_once(call: Call, aws: dict[str, Any]) -> None:
    call("POST", "/api/users", NEW_CLIENT)  # 3 orders, average 80
    order = {"amount": 120, "orderedAt": "2026-11-28T10:00:00Z", "orderId": "web-1001"}

    first = call("POST", "/api/users/ada-1/orders", order)
    retried = call("POST", "/api/users/ada-1/orders", order)  # the client's retry after a timeout
    other = call("POST", "/api/users/ada-1/orders", {**order, "orderId": "web-1002", "amount": 40})

    assert (first[0], retried[0], other[0]) == (201, 200, 201)
    assert (retried[1]["duplicate"], retried[1]["order"]["orderId"]) == (True, "web-1001")
    assert retried[1]["client"]["orderCount"] == 4
    assert (other[1]["client"]["orderCount"], other[1]["client"]["averageOrderValue"]) == (5, 80.0)
    assert call("POST", "/api/users/ada-1/orders", {**order, "orderId": "a b"})[0] == 422


class AtomicRequests:
    """DynamoDB applies each request atomically; moto in-process does not when threads race. This makes it do so,
    one request at a time, and holds each reader a moment after its read, so the racing orders all read before
    any writes: the worst case for a read-modify-write."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**request: Any) -> Any:
            with self._lock:
                answer = method(**request)
            if name == "get_item":
                time.sleep(0.02)
            return answer

        return call


def test_orders_recorded_at_once_are_all_counted(api: ModuleType, call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    from engagement.domain.orders import OrderInput, OrderSource
    from engagement.errors import Conflict

    call("POST", "/api/users", {**NEW_CLIENT, "orderCount": 0, "averageOrderValue": 0})
    rebuild(api, clock=api.services.clock, clients=Clients(dynamodb=AtomicRequests(aws_client("dynamodb"))))
    counted: list[Decimal] = []

    def order(amount: Decimal) -> None:
        try:
            api.services.orders.record("ada-1", [OrderInput(amount=amount)], OrderSource.API)
            counted.append(amount)
        except Conflict:
            pass  # the caller is told (409) and may try again: refused, not lost

    threads = [threading.Thread(target=order, args=(Decimal(10 * (i + 1)),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    client = call("GET", "/api/users/ada-1")[1]
    assert len(counted) == 8  # each one retried until it got through
    assert client["orderCount"] == len(counted)  # every order that was accepted is counted: none lost to a race
    assert client["totalSpent"] == sum(counted)
    assert client["averageOrderValue"] == pytest.approx(float(sum(counted)) / len(counted), abs=0.005)
    recorded = call("GET", "/api/users/ada-1/orders?limit=20")[1]["items"]
    assert sorted(order["amount"] for order in recorded) == sorted(counted)


@pytest.mark.parametrize(
    ("body", "status"),
    [({"amount": -5}, 422), ({}, 422), ({"amount": 10, "orderedAt": "2030-01-01T00:00:00Z"}, 422),
     ({"amount": 10, "orderedAt": "2020-01-01T00:00:00Z"}, 422), ({"amount": "ten"}, 422), ({"amount": "NaN"}, 422),
     ({"amount": 10.001}, 422), ({"amount": 10, "currency": "XYZ"}, 422), ({"amount": 10, "currency": "EUR"}, 422),
     ({"amount": 10, "lineItems": [{"productId": "p1", "quantity": 0, "unitPrice": 10}]}, 422)],
)  # fmt: skip
def test_a_bad_order_is_refused(call: Call, body: Any, status: int) -> None:
    call("POST", "/api/users", NEW_CLIENT)
    assert call("POST", "/api/users/ada-1/orders", body)[0] == status
    assert call("GET", "/api/users/ada-1")[1]["orderCount"] == 3
    assert call("POST", "/api/users/nobody/orders", {"amount": 10})[0] == 404


def test_an_order_for_a_client_whose_item_is_broken_is_a_conflict(call: Call, aws: dict[str, Any]) -> None:
    put_client(aws, "broken", orderCount="many")
    status, answer, _ = call("POST", "/api/users/broken/orders", {"amount": 10})
    assert status == 409
    assert "fix it first" in answer["message"]


@pytest.fixture
def draft_id(call: Call, load_handler: Callable[..., ModuleType], aws: dict[str, Any], lambda_context: Any) -> str:
    """The runbook's test-user-8, drafted an hour before the API's clock."""
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=RUNBOOK_TEST_USER_8)
    processor = load_handler("email_processor", clock=FixedClock(NOW - timedelta(hours=1)))
    processor.lambda_handler(batch(message(RUNBOOK_TEST_USER_8, "evt-1")), lambda_context)
    [email] = call("GET", "/api/emails?status=PENDING_REVIEW")[1]["items"]
    return str(email["emailId"])


def test_the_client_detail_has_a_timeline_of_decisions_and_email_steps(call: Call, draft_id: str) -> None:
    call("POST", f"/api/emails/{draft_id}/reject", {"reviewer": "ana", "reason": "tone"})

    timeline = call("GET", "/api/users/test-user-8")[1]["timeline"]

    assert [(entry["kind"], entry["at"], entry.get("toStatus") or entry.get("reason")) for entry in timeline] == [
        ("email", "2026-11-28T12:00:00.000Z", "REJECTED"),
        ("decision", "2026-11-28T11:00:00.000Z", "eligible"),
        ("email", "2026-11-28T11:00:00.000Z", "PENDING_REVIEW"),
    ]
    assert (timeline[0]["by"], timeline[0]["reason"], timeline[1]["eventType"]) == ("operator:ana", "tone",
                                                                                    "client.created")  # fmt: skip


# ---- editing a draft ------------------------------------------------------------------------------------------


def test_an_edit_is_rendered_escaped_and_recorded(call: Call, draft_id: str) -> None:
    edit = {"subject": "A note from your stylist", "paragraphs": ["New pants & shirts are in.", "Come and see."],
            "editor": "ana"}  # fmt: skip

    status, email, _ = call("PATCH", f"/api/emails/{draft_id}", edit)

    assert status == 200
    assert email["subject"] == "A note from your stylist"
    assert "New pants &amp; shirts are in." in email["content"]
    assert "New pants & shirts are in." in email["textContent"]
    assert email["body"]["paragraphs"] == ["New pants & shirts are in.", "Come and see."]
    assert (email["status"], email["transitions"][-1]["by"], email["transitions"][-1]["reason"]) == (
        "PENDING_REVIEW", "operator:ana", "edited: paragraphs, subject")  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "fields"),
    [
        ({"paragraphs": ["Take 20% off everything this week."]}, {"offer"}),
        ({"paragraphs": ["<script>alert(1)</script>"]}, {"markup"}),
        ({"paragraphs": ["See more at evil.example.net"]}, {"link"}),
        ({"paragraphs": ["Thanks for your 12 orders."]}, {"fact"}),
        ({"subject": ""}, {"subject"}),
        ({"paragraphs": []}, {"paragraphs"}),
        ({"paragraphs": ["x"] * 6}, {"paragraphs"}),
        ({"callToActionLabel": "x" * 41}, {"callToActionLabel"}),
        ({"paragraphs": ["1" * 20_000]}, {"paragraphs.0"}),  # refused by its length, before any pattern reads it
        ({"subject": "x" * 121}, {"subject"}),
        ({"paragraphs": ["Call us on 020 7946 0958."]}, {"contact"}),
        ({"colour": "red"}, {"colour"}),
        ({}, {"body"}),
    ],
)
def test_an_edit_that_breaks_a_rule_is_refused_and_the_draft_kept(
    call: Call, draft_id: str, edit: dict[str, Any], fields: set[str]
) -> None:
    before = call("GET", f"/api/emails/{draft_id}")[1]
    status, answer, _ = call("PATCH", f"/api/emails/{draft_id}", edit)
    assert status == 422
    assert fields <= fields_named(answer), answer
    assert call("GET", f"/api/emails/{draft_id}")[1] == before


def test_a_body_larger_than_any_request_is_refused_before_it_is_read(call: Call, draft_id: str) -> None:
    status, answer, _ = call("PATCH", f"/api/emails/{draft_id}", {"paragraphs": ["x" * 70_000]})
    assert (status, answer["message"]) == (413, "the body is larger than 65536 bytes")


def test_a_new_clients_address_is_kept_as_a_bare_lower_case_address(call: Call) -> None:
    status, created, _ = call("POST", "/api/users", {**NEW_CLIENT, "email": "  Ada.King@Example.COM "})
    assert (status, created["email"]) == (201, "ada.king@example.com")


def test_an_edit_with_only_nulls_changes_nothing(call: Call, draft_id: str) -> None:
    before = call("GET", f"/api/emails/{draft_id}")[1]
    status, answer, _ = call("PATCH", f"/api/emails/{draft_id}", {"subject": None, "editor": "ana"})
    assert (status, fields_named(answer)) == (422, {"body"})
    assert call("GET", f"/api/emails/{draft_id}")[1] == before


def test_a_reviewer_acts_only_on_the_version_they_read(call: Call, draft_id: str) -> None:
    read = call("GET", f"/api/emails/{draft_id}")[1]
    assert read["version"] == 1  # drafted
    edited = call("PATCH", f"/api/emails/{draft_id}", {"subject": "Edited by ana", "version": read["version"]})[1]
    assert edited["version"] == 2

    # Another reviewer, still looking at version 1, edits or approves: refused, nothing sent or changed.
    status, answer, _ = call("PATCH", f"/api/emails/{draft_id}", {"subject": "Bo's", "version": 1})
    assert (status, answer["message"]) == (409, f"email {draft_id} changed since you read it (version 1, now 2): "
                                                "reload it")  # fmt: skip
    assert call("POST", f"/api/emails/{draft_id}/approve", {"reviewer": "bo", "version": 1})[0] == 409
    assert call("POST", f"/api/emails/{draft_id}/reject", {"reviewer": "bo", "version": 1})[0] == 409
    now = call("GET", f"/api/emails/{draft_id}")[1]
    assert (now["status"], now["subject"], now["version"]) == ("PENDING_REVIEW", "Edited by ana", 2)

    status, sent, _ = call("POST", f"/api/emails/{draft_id}/approve", {"reviewer": "bo", "version": 2})
    assert (status, sent["status"], sent["subject"]) == (200, "SENT", "Edited by ana")


def test_only_a_pending_draft_can_be_edited(call: Call, draft_id: str) -> None:
    call("POST", f"/api/emails/{draft_id}/reject", {"reviewer": "ana"})
    status, answer, _ = call("PATCH", f"/api/emails/{draft_id}", {"subject": "Too late"})
    assert (status, answer["message"]) == (409, f"email {draft_id} is REJECTED; it cannot become PENDING_REVIEW")
    assert call("PATCH", "/api/emails/nope", {"subject": "x"})[0] == 404


# ---- stats ----------------------------------------------------------------------------------------------------


def test_stats_count_bands_statuses_and_reasons_from_a_cache_that_shows_its_age(
    api: ModuleType, call: Call, draft_id: str, aws: dict[str, Any]
) -> None:
    put_client(aws, "good-1", engagementScore=90)

    first = call("GET", "/api/stats")[1]
    assert first["clients"]["byBand"] == {"critical": 0, "at_risk": 1, "moderate": 0, "good": 1, "unknown": 0}
    assert first["emails"]["byStatus"]["PENDING_REVIEW"] == 1
    assert first["decisions"]["byReason"]["eligible"] == 1
    assert (first["ageSeconds"], first["computedAt"]) == (0, "2026-11-28T12:00:00.000Z")

    put_client(aws, "good-2", engagementScore=95)
    api.services.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    cached = call("GET", "/api/stats")[1]
    assert (cached["clients"]["total"], cached["ageSeconds"]) == (2, 120)  # the cached figure, and its age
    refreshed = call("GET", "/api/stats?refresh=true")[1]
    assert (refreshed["clients"]["total"], refreshed["ageSeconds"]) == (3, 0)
    api.services.clock.advance(timedelta(minutes=6))  # type: ignore[attr-defined]
    put_client(aws, "good-3", engagementScore=95)
    assert call("GET", "/api/stats")[1]["clients"]["total"] == 4  # older than 5 minutes: recomputed


def test_one_recount_at_a_time_the_others_are_served_the_stored_figures_marked_stale(
    api: ModuleType, call: Call, aws: dict[str, Any]
) -> None:
    decisions = api.services.stats.decisions
    put_client(aws, "good-1", engagementScore=90)
    assert decisions.take_recount_lease("another-request", NOW, NOW + timedelta(seconds=10))

    status, _, headers = call("GET", "/api/stats?refresh=true")  # nothing stored yet, and a count running
    assert (status, "Retry-After" in headers) == (503, True)

    api.services.clock.advance(timedelta(seconds=11))  # type: ignore[attr-defined]  # that request ran out of time
    first = call("GET", "/api/stats?refresh=true")[1]  # this one recounts, and gives the lease back
    assert (first["clients"]["total"], first["stale"]) == (1, False)

    put_client(aws, "good-2", engagementScore=95)
    assert decisions.take_recount_lease(
        "another-request", api.services.clock.now(), api.services.clock.now() + timedelta(seconds=10)
    )
    while_counting = call("GET", "/api/stats?refresh=true")[1]
    assert (while_counting["clients"]["total"], while_counting["stale"]) == (1, True)  # the stored figures
    decisions.release_recount_lease("another-request", api.services.clock.now())
    assert call("GET", "/api/stats?refresh=true")[1]["clients"]["total"] == 2


def test_a_count_that_would_outlast_the_request_serves_the_stored_figures(
    api: ModuleType, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engagement.services import stats as stats_module

    monkeypatch.setattr(stats_module, "CHECK_EVERY", 2)
    for i in range(5):
        put_client(aws, f"c-{i}", engagementScore=90)
    stats = api.services.stats

    with pytest.raises(TransientFailure):  # nothing stored yet: the API answers 503, try later
        stats.overview(time_left=lambda: 1.0)
    stored_figures = stats.overview()
    put_client(aws, "c-5", engagementScore=90)
    api.services.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]

    late = stats.overview(time_left=lambda: 1.0)

    assert (late["clients"]["total"], late["stale"], late["ageSeconds"]) == (5, True, 600)
    assert stored_figures["stale"] is False


def test_a_redrive_stops_before_the_invocation_ends_and_says_how_many_moved(
    api: ModuleType, aws: dict[str, Any]
) -> None:
    sqs, urls = aws["sqs"], aws["deployed"].queue_urls
    for i in range(25):
        sqs.send_message(QueueUrl=urls["client-signals-dlq"], MessageBody=json.dumps({"n": i}))
    budget = iter([30.0, 30.0, 1.0])  # enough for two rounds of 10, then too little

    answer = api.services.pipeline.redrive("client-signals-dlq", limit=100, time_left=lambda: next(budget))

    assert answer == {"moved": 20, "remaining": 5}


# ---- pipeline -------------------------------------------------------------------------------------------------


def test_the_pipeline_shows_every_queue_and_a_dead_letter_is_redriven_without_its_reason(
    call: Call, aws: dict[str, Any]
) -> None:
    sqs, urls = aws["sqs"], aws["deployed"].queue_urls
    sqs.send_message(
        QueueUrl=urls["email-requests-dlq"], MessageBody='{"version": 1}',
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "bad"},
                           "eventType": {"DataType": "String", "StringValue": "client.updated"}},
    )  # fmt: skip

    health = call("GET", "/api/pipeline")[1]
    by_name = {queue["name"]: queue for queue in health["queues"]}
    assert set(by_name) == {queue.logical_name for queue in resources.QUEUES}
    assert (by_name["email-requests-dlq"]["visible"], by_name["email-requests-dlq"]["redrivesTo"]) == (
        1,
        "email-requests",
    )
    assert by_name["email-requests-dlq"]["oldestAgeSeconds"] is not None
    assert by_name["stream-dlq"]["redrivesTo"] is None

    status, moved, _ = call("POST", "/api/pipeline/dead-letters/email-requests-dlq/redrive", {"max": 10})

    assert (status, moved) == (200, {"moved": 1, "remaining": 0})
    [redriven] = sqs.receive_message(QueueUrl=urls["email-requests"], MessageAttributeNames=["All"])["Messages"]
    assert redriven["Body"] == '{"version": 1}'
    assert set(redriven["MessageAttributes"]) == {"eventType"}  # the dead-lettering reason is not carried back


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [("/api/pipeline/dead-letters/stream-dlq/redrive", None, 409),
     ("/api/pipeline/dead-letters/email-requests/redrive", None, 404),
     ("/api/pipeline/dead-letters/nothing/redrive", None, 404),
     ("/api/pipeline/dead-letters/email-requests-dlq/redrive", {"max": 0}, 422),
     ("/api/pipeline/dead-letters/email-requests-dlq/redrive", {"max": 5000}, 422)],
)  # fmt: skip
def test_a_redrive_that_cannot_be_done_says_why(call: Call, path: str, body: Any, status: int) -> None:
    code, answer, _ = call("POST", path, body)
    assert code == status
    assert answer["message"]


# ---- OpenAPI, the dashboard, JWT mode -------------------------------------------------------------------------


def test_the_openapi_document_describes_the_routes_and_needs_the_token(call: Call) -> None:
    assert call("GET", "/api/openapi.json", token=None)[0] == 401
    status, document, _ = call("GET", "/api/openapi.json")
    assert status == 200
    assert {"/api/users", "/api/users/{user_id}/orders", "/api/emails/{email_id}", "/api/stats",
            "/api/pipeline"} <= set(document["paths"])  # fmt: skip
    assert "patch" in document["paths"]["/api/emails/{email_id}"]


def test_every_api_route_needs_the_token(call: Call, aws: dict[str, Any]) -> None:
    put_client(aws, "ada-1")
    stored_before = stored(aws, "ada-1")
    paths = call("GET", "/api/openapi.json")[1]["paths"]
    routes = [(method.upper(), path) for path, operations in paths.items() if path.startswith("/api/")
              for method in operations]  # fmt: skip
    assert len(routes) >= 18

    for method, path in routes:
        concrete = (
            path.replace("{user_id}", "ada-1").replace("{email_id}", "e-1").replace("{name}", "client-signals-dlq")
        )
        for token in (None, "wrong-token-0123456789abcdef"):
            status, _, headers = call(method, concrete, {"amount": 1}, token=token)
            assert (status, headers.get("WWW-Authenticate")) == (401, "Bearer"), (method, path, token)
    item = stored(aws, "ada-1")
    assert item is not None
    assert item == stored_before  # nothing a refused request asked for happened


def test_the_dashboard_is_served_with_a_policy_that_forbids_inline_script(call: Call) -> None:
    status, page, headers = call("GET", "/", token=None)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert 'src="/assets/app.js"' in page
    pictures = headers["Content-Security-Policy"].split("img-src ")[1].split(";")[0].split()
    # the previews' product pictures, from the shop's own domain and its picture host, over https; nothing else
    assert pictures == ["'self'", "data:", "https://cdn.shopify.com", "https://shop.example.com"]
    status, _, headers = call("GET", "/assets/app.js", token=None)
    assert (status, headers["Content-Type"]) == (200, "text/javascript; charset=utf-8")
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/assets/handler.py", "/assets/..%2Fhandler.py", "/assets/missing.js"])
def test_only_the_dashboards_own_files_are_served(call: Call, path: str) -> None:
    assert call("GET", path, token=None)[0] == 404


def test_in_jwt_mode_the_gateways_claims_are_what_lets_a_caller_in(
    load_handler: Callable[..., ModuleType], lambda_context: Any
) -> None:
    api = load_handler("api", AUTH_MODE="jwt")

    def status(context: dict[str, Any], token: str | None) -> int:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        event = http_api_event(
            method="GET", path="/api/users", query="", headers=headers, body=b"", source_ip="1.2.3.4"
        )
        event["requestContext"].update(context)
        return int(api.lambda_handler(event, lambda_context)["statusCode"])

    claims = {"authorizer": {"jwt": {"claims": {"sub": "ana"}, "scopes": ["engagement/read"]}}}
    assert status(claims, None) == 200
    assert status({}, TOKEN) == 401  # the shared token means nothing in jwt mode


def jwt_caller(api: ModuleType, lambda_context: Any, **claims: Any) -> Call:
    """Requests as API Gateway passes them after its JWT authorizer, for a token with these claims."""
    scopes = claims.pop("scopes", None)

    def request(method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
        data = b"" if body is None else json.dumps(body).encode()
        event = http_api_event(method=method, path=path, query="", headers={"content-type": "application/json"},
                               body=data, source_ip="1.2.3.4")  # fmt: skip
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
        response = api.lambda_handler(event, lambda_context)
        text = response.get("body") or ""
        return response["statusCode"], json.loads(text) if text.startswith("{") else text, response["headers"]

    return request


@pytest.fixture
def jwt_api(load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("api", clock=FixedClock(NOW), AUTH_MODE="jwt")


def test_a_read_scope_may_look_but_not_review_and_the_refusal_says_what_is_needed(
    jwt_api: ModuleType, draft_id: str, lambda_context: Any
) -> None:
    reader = jwt_caller(jwt_api, lambda_context, sub="s-1", email="ana@shop.example.com", scopes=["engagement/read"])
    assert reader("GET", f"/api/emails/{draft_id}")[0] == 200
    status, answer, _ = reader("POST", f"/api/emails/{draft_id}/approve", {})
    assert status == 403
    assert answer["message"] == (
        f"your token grants read; POST /api/emails/{draft_id}/approve needs review (scope engagement/review)"
    )
    nobody = jwt_caller(jwt_api, lambda_context, sub="s-2")
    assert nobody("GET", "/api/users")[0] == 403  # a valid token for the audience, but no scope or group at all


def test_a_reviewer_is_recorded_from_the_token_not_from_the_body(
    jwt_api: ModuleType, draft_id: str, lambda_context: Any
) -> None:
    reviewer = jwt_caller(jwt_api, lambda_context, sub="s-1", email="ana@shop.example.com",
                          scopes=["engagement/review"])  # fmt: skip
    edited = reviewer("PATCH", f"/api/emails/{draft_id}", {"subject": "Edited", "editor": "mallory"})[1]
    status, approved, _ = reviewer("POST", f"/api/emails/{draft_id}/approve", {"reviewer": "mallory"})

    assert status == 200
    assert edited["transitions"][-1]["by"] == "operator:ana@shop.example.com"
    [approval] = [step for step in approved["transitions"] if step.get("fromStatus") == "PENDING_REVIEW"
                  and step["toStatus"] != "PENDING_REVIEW"]  # fmt: skip
    assert approval["by"] == "operator:ana@shop.example.com"
    assert "mallory" not in json.dumps(approved["transitions"])


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"scopes": ["engagement/review"]}, 403),
        ({"cognito:groups": "[engagement-review]"}, 403),
        ({"scopes": ["engagement/admin"]}, 200),
        ({"cognito:groups": "[support engagement-admin]"}, 200),
    ],
)
def test_deleting_a_client_takes_the_admin_scope_or_group(
    jwt_api: ModuleType, lambda_context: Any, aws: dict[str, Any], claims: dict[str, Any], status: int
) -> None:
    put_client(aws, "gone-1")
    caller = jwt_caller(jwt_api, lambda_context, sub="s-1", **claims)
    assert caller("DELETE", "/api/users/gone-1")[0] == status
    assert (stored(aws, "gone-1") is None) == (status == 200)
