"""The API's refusals before routing (engagement.http.guard.refuse): who is turned away, in what order, with what."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from engagement.http.guard import JSON_ONLY, MAX_BODY_BYTES, MAX_PATH_BYTES, refuse

TOKEN = "Bearer right-token"


def event(
    path: str = "/api/users",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    base64_body: bool = False,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"http": {"method": method, "path": path}}
    if scopes is not None:
        context["authorizer"] = {"jwt": {"claims": {"sub": "ana"}, "scopes": scopes}}
    return {"rawPath": path, "headers": headers if headers is not None else {"authorization": TOKEN},
            "body": body, "isBase64Encoded": base64_body, "requestContext": context}  # fmt: skip


def bearer(request: dict[str, Any]) -> dict[str, Any] | None:
    return refuse(request, auth_mode="bearer", bearer_accepted=lambda header: header == TOKEN)


def jwt(request: dict[str, Any]) -> dict[str, Any] | None:
    return refuse(request, auth_mode="jwt", bearer_accepted=lambda _: pytest.fail("JWT mode reads no bearer token"))


def answer(response: dict[str, Any] | None) -> tuple[int, str]:
    assert response is not None, "the request was let through"
    return response["statusCode"], json.loads(response["body"])["message"]


def test_a_good_request_is_routed() -> None:
    assert bearer(event()) is None
    json_headers = {"authorization": TOKEN, "content-type": "application/json; charset=utf-8"}
    assert bearer(event("/api/users", method="POST", body='{"a": 1}', headers=json_headers)) is None


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": "Basic right-token"}])
def test_without_the_token_api_paths_are_401_with_www_authenticate(headers: dict[str, str]) -> None:
    for path in ("/api", "/api/users", "/api/no-such-route"):
        response = bearer(event(path, headers=headers))
        assert answer(response) == (401, "missing or invalid bearer token")
        assert response is not None
        assert response["headers"]["WWW-Authenticate"] == "Bearer"


def test_public_paths_need_no_token() -> None:
    for path in ("/health", "/", "/assets/app.js", "/unsubscribe", "/apiary"):
        assert bearer(event(path, headers={})) is None


def test_authentication_comes_before_every_other_refusal() -> None:
    """A stranger learns nothing about /api/*: not even that the body is too big or the path too long."""
    assert answer(bearer(event("/api/" + "x" * 2000, headers={}, body="x" * (MAX_BODY_BYTES + 1))))[0] == 401


def test_a_path_too_long_to_be_a_key_is_414() -> None:
    assert answer(bearer(event("/api/users/" + "x" * MAX_PATH_BYTES))) == (
        414, f"the path is longer than {MAX_PATH_BYTES} bytes"
    )  # fmt: skip


def test_a_body_too_large_is_413_counted_in_bytes_or_decoded_base64() -> None:
    json_headers = {"authorization": TOKEN, "content-type": "application/json"}
    assert answer(bearer(event(body="é" * (MAX_BODY_BYTES // 2 + 1), headers=json_headers)))[0] == 413  # 2 bytes each
    raw = base64.b64encode(b"x" * (MAX_BODY_BYTES + 3)).decode()
    assert answer(bearer(event(body=raw, base64_body=True, headers=json_headers)))[0] == 413
    assert bearer(event(body="x" * 100, headers=json_headers)) is None  # not JSON: the resolver's 422, not ours


def test_an_api_body_that_is_not_declared_json_is_415() -> None:
    for content_type in (None, "application/x-www-form-urlencoded", "text/plain"):
        headers = {"authorization": TOKEN} | ({"content-type": content_type} if content_type else {})
        assert answer(bearer(event(method="POST", body='{"a": 1}', headers=headers))) == (415, JSON_ONLY)


def test_json_the_parser_would_choke_on_is_422_naming_the_problem() -> None:
    headers = {"authorization": TOKEN, "content-type": "application/json"}
    status, message = answer(bearer(event(method="POST", body="[" * 10_000 + "]" * 10_000, headers=headers)))
    assert status == 422
    assert message.startswith("the body is not JSON we can read")
    status, message = answer(bearer(event(method="POST", body='{"n": ' + "9" * 5000 + "}", headers=headers)))
    assert (status, message) == (422, "the body is not JSON we can read: ValueError")


def test_jwt_mode_needs_the_gateways_claims_then_the_routes_level() -> None:
    assert answer(jwt(event(headers={})))[0] == 401  # did not come through the authorizer
    assert jwt(event(scopes=["engagement/read"])) is None
    status, message = answer(jwt(event("/api/users/u-1", method="DELETE", scopes=["engagement/review"])))
    assert status == 403
    assert message == (
        "your token grants review; DELETE /api/users/u-1 needs admin (scope engagement/admin)"
    )  # fmt: skip
    assert answer(jwt(event(scopes=[])))[1].startswith("your token grants no engagement scope or group")
