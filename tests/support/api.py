"""Requests to the API's handler as API Gateway (HTTP API, payload 2.0) passes them: the way tests call the API."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from localmode.lambda_events import http_api_event
from tests.support.handlers import API_TOKEN, LambdaContext

Answer = tuple[int, Any, dict[str, str]]  # status, the body (parsed when JSON, else text), headers


def api_request(
    api: ModuleType,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = API_TOKEN,
    content_type: str | None = "application/json",
    request_context: dict[str, Any] | None = None,
    context: Any = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """path may carry a query; body: bytes or str as sent, anything else as JSON; request_context: what API Gateway
    adds (a JWT authorizer's claims, say); headers: more request headers (a store's webhook's)."""
    route, _, query = path.partition("?")
    headers = {"host": "api.example.com", **{name.lower(): value for name, value in (headers or {}).items()}}
    if content_type:
        headers["content-type"] = content_type
    if token:
        headers["authorization"] = f"Bearer {token}"
    if body is None:
        data = b""
    elif isinstance(body, bytes | str):
        data = body.encode() if isinstance(body, str) else body
    else:
        data = json.dumps(body).encode()
    event = http_api_event(method=method, path=route, query=query, headers=headers, body=data, source_ip="1.2.3.4")
    event["requestContext"].update(request_context or {})
    response = api.lambda_handler(event, context or LambdaContext())
    text = response.get("body") or ""
    is_json = response.get("headers", {}).get("Content-Type", "").startswith("application/json")
    return response["statusCode"], (json.loads(text) if is_json and text else text), response.get("headers", {})
