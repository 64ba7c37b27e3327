"""The HTTP API on moto, driven with API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.aws import client as aws_client
from engagement.domain.models import Band, Email, EmailStatus
from engagement.errors import TransientFailure
from tests.support.api import Answer, api_request
from tests.support.events import client_values, to_image
from tests.support.handlers import API_TOKEN

TOKEN = API_TOKEN
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def api(load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("api")


@pytest.fixture
def call(api: ModuleType, lambda_context: Any) -> Callable[..., Answer]:
    def request(path: str, token: str | None = TOKEN, method: str = "GET") -> Answer:
        return api_request(api, method, path, token=token, context=lambda_context)

    return request


def add_user(aws: dict[str, Any], user_id: str, **values: Any) -> None:
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(client_values(user_id, **values)))


def add_email(api: ModuleType, user_id: str, minutes: int) -> Email:
    created = T0 + timedelta(minutes=minutes)
    email = Email(
        email_id=f"email-{user_id}-{minutes}", user_id=user_id, subject="We miss you", content="<p>Hi</p>",
        generated_at=created, engagement_score_at_time=30, status=EmailStatus.PENDING_REVIEW, created_at=created,
        recipient=f"{user_id}@example.com", text_content="Hi", preheader="", band_at_time=Band.AT_RISK,
        writer="template", trigger_event_id=f"evt-{minutes}",
    )  # fmt: skip
    assert api.services.emails.add(email)
    return email


def test_health_is_public(call: Callable[..., Any]) -> None:
    assert call("/health", token=None)[:2] == (200, {"status": "ok"})


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789", ""])
def test_api_routes_need_the_bearer_token(call: Callable[..., Any], token: str | None) -> None:
    status, body, headers = call("/api/users", token=token)
    assert (status, body) == (401, {"message": "missing or invalid bearer token"})
    assert headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/api/users?limit=abc", "/api/emails?status=NOPE", "/api", "/api/users/u-1"])
def test_without_a_token_nothing_about_the_api_is_told(call: Callable[..., Any], path: str) -> None:
    assert call(path, token=None)[:2] == (401, {"message": "missing or invalid bearer token"})


def test_unknown_api_routes_are_401_without_a_token_and_404_with_one(call: Callable[..., Any]) -> None:
    assert call("/api/nothing-here", token=None)[0] == 401
    assert call("/api/nothing-here")[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/api/stats", "GET, HEAD"),
        ("PUT", "/api/users", "GET, HEAD, POST"),
        ("POST", "/api/users/u-1", "GET, HEAD, PATCH, DELETE"),
        ("DELETE", "/health", "GET, HEAD"),
    ],
)
def test_a_method_a_route_does_not_take_is_405_naming_those_it_does(
    call: Callable[..., Any], method: str, path: str, allow: str
) -> None:
    status, answer, headers = call(path, method=method)
    assert (status, headers.get("Allow")) == (405, allow)
    assert answer["message"] == f"{method} is not a method {path} takes"


def test_clients_are_listed_page_by_page(call: Callable[..., Any], aws: dict[str, Any]) -> None:
    for i in range(5):
        add_user(aws, f"u-{i}")
    seen: list[str] = []
    cursor = ""
    for _ in range(3):
        status, body, _ = call(f"/api/users?limit=2{'&cursor=' + cursor if cursor else ''}")
        assert status == 200
        assert len(body["items"]) <= 2
        seen += [item["userId"] for item in body["items"]]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"u-{i}" for i in range(5)]


def test_a_client_shows_the_score_breakdown_decisions_and_emails(
    call: Callable[..., Any], aws: dict[str, Any], api: ModuleType
) -> None:
    add_user(aws, "u-1", engagementScore=30)
    add_email(api, "u-1", 1)

    status, body, _ = call("/api/users/u-1")

    assert status == 200
    assert body["score"]["value"] == 30
    assert {part["factor"] for part in body["score"]["breakdown"]} == {"recency", "frequency", "value"}
    assert [email["emailId"] for email in body["recentEmails"]] == ["email-u-1-1"]
    assert "content" not in body["recentEmails"][0]
    assert body["recentDecisions"] == []


def test_an_item_that_breaks_the_contract_is_shown_with_its_problem(
    call: Callable[..., Any], aws: dict[str, Any]
) -> None:
    add_user(aws, "u-bad", orderCount="many")
    status, body, _ = call("/api/users/u-bad")
    assert status == 200
    assert body["orderCount"] == "many"
    assert "orderCount" in body["problem"]


def test_a_missing_client_or_email_is_404(call: Callable[..., Any]) -> None:
    assert call("/api/users/nobody")[:2] == (404, {"message": "no client 'nobody'"})
    assert call("/api/emails/none")[:2] == (404, {"message": "no email 'none'"})


def test_a_clients_emails_come_newest_first_with_cursors(call: Callable[..., Any], api: ModuleType) -> None:
    for minutes in (5, 1, 9, 3):
        add_email(api, "u-1", minutes)
    add_email(api, "u-2", 7)

    status, first, _ = call("/api/users/u-1/emails?limit=3")
    _, second, _ = call(f"/api/users/u-1/emails?limit=3&cursor={first['nextCursor']}")

    assert status == 200
    assert [e["emailId"] for e in first["items"] + second["items"]] == [f"email-u-1-{m}" for m in (9, 5, 3, 1)]
    assert second["nextCursor"] is None


def test_a_page_shows_whole_emails_read_back_by_key_even_when_dynamodb_leaves_some_unread(
    call: Callable[..., Any], api: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for minutes in (1, 3, 2):
        add_email(api, "u-1", minutes)
    dynamodb = aws_client("dynamodb")  # the process's client, which the API reads through
    real, calls = dynamodb.batch_get_item, []

    def batch_get_item(**request: Any) -> Any:
        calls.append(request)
        if len(calls) > 1:
            return real(**request)
        ((table, wanted),) = request["RequestItems"].items()  # part answered, the rest handed back (throttled)
        answer = real(RequestItems={table: {"Keys": wanted["Keys"][:1]}})
        return answer | {"UnprocessedKeys": {table: {"Keys": wanted["Keys"][1:]}}}

    monkeypatch.setattr(dynamodb, "batch_get_item", batch_get_item)
    status, page, _ = call("/api/users/u-1/emails")

    assert status == 200
    assert [email["emailId"] for email in page["items"]] == [f"email-u-1-{m}" for m in (3, 2, 1)]
    assert {email["content"] for email in page["items"]} == {"<p>Hi</p>"}  # the index holds no content
    assert len(calls) == 2


@pytest.mark.parametrize("query", ["", "status=PENDING_REVIEW&"])
def test_all_emails_newest_first_across_pages(call: Callable[..., Any], api: ModuleType, query: str) -> None:
    for minutes in range(7):
        add_email(api, f"u-{minutes % 3}", minutes)
    ids: list[str] = []
    cursor = None
    while True:
        _, page, _ = call(f"/api/emails?{query}limit=3" + (f"&cursor={cursor}" if cursor else ""))
        ids += [e["createdAt"] for e in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(ids) == 7
    assert ids == sorted(ids, reverse=True)


def test_one_email_in_full(call: Callable[..., Any], api: ModuleType) -> None:
    add_email(api, "u-1", 1)
    status, body, _ = call("/api/emails/email-u-1-1")
    assert status == 200
    assert (body["content"], body["status"], body["createdAt"]) == (
        "<p>Hi</p>",
        "PENDING_REVIEW",
        "2026-11-01T00:01:00.000Z",
    )


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/users?limit=0", "limit"), ("/api/users?limit=500", "limit"), ("/api/users?limit=ten", "limit"),
     ("/api/emails?status=LOST", "status")],
)  # fmt: skip
def test_bad_query_parameters_are_422_naming_the_field(call: Callable[..., Any], path: str, field: str) -> None:
    status, body, _ = call(path)
    assert status == 422
    assert body["message"] == "invalid request"
    assert [error["field"] for error in body["errors"]] == [field]


def cursor_of(key: dict[str, Any]) -> str:
    from engagement.adapters.store.pagination import encode_cursor

    return str(encode_cursor(key))


@pytest.mark.parametrize(
    "path",
    [
        "/api/users?cursor=bm90LWEta2V5",
        "/api/emails?cursor=%%%",
        "/api/users/u/emails?cursor=e30",
        "/api/users?cursor=" + cursor_of({"userId": {"N": "abc"}}),
        "/api/users?cursor=" + cursor_of({"userId": {"S": ""}}),
        "/api/emails?status=PENDING_REVIEW&cursor=" + cursor_of({"emailId": {"S": "e"}}),
    ],
)
def test_a_cursor_the_api_did_not_hand_out_is_400(call: Callable[..., Any], path: str) -> None:
    assert call(path)[:2] == (400, {"message": "cursor is not one this API returned"})


def test_a_cursor_from_another_clients_listing_is_400(call: Callable[..., Any], api: ModuleType) -> None:
    add_email(api, "u-1", 1)
    add_email(api, "u-1", 2)
    _, page, _ = call("/api/users/u-1/emails?limit=1")
    assert call(f"/api/users/u-2/emails?cursor={page['nextCursor']}")[:2] == (
        400,
        {"message": "cursor belongs to another listing"},
    )


def test_errors_never_show_a_stack_trace(
    call: Callable[..., Any], api: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internals at /var/task/engagement/adapters/store.py line 42")

    monkeypatch.setattr(api.services.users, "page", broken)
    status, body, _ = call("/api/users")
    assert (status, body) == (500, {"message": "internal error"})


def test_throttled_storage_is_503_with_retry_after(
    call: Callable[..., Any], api: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*_: Any, **__: Any) -> Any:
        raise TransientFailure("list clients: ProvisionedThroughputExceededException")

    monkeypatch.setattr(api.services.users, "page", throttled)
    status, _, headers = call("/api/users")
    assert status == 503
    assert headers["Retry-After"] == "2"
