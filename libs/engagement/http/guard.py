"""What the API refuses before routing: a stranger learns nothing about /api/*, and nothing reads a request that
is too big or not JSON. A pure function of the event, so each refusal has a unit test."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Literal

from engagement.domain import jsontext
from engagement.domain.webhooks import MAX_WEBHOOK_BYTES
from engagement.http.auth import SCOPE_PREFIX, granted_access, needed_access, verified_by_gateway
from engagement.http.errors import refusal

MAX_PATH_BYTES = 1024  # ids this long cannot be keys (DynamoDB allows 2048 bytes)
MAX_BODY_BYTES = 64 * 1024  # the largest request any route takes is a few KB (an email's edit); a store's webhook
# may be larger (a big order): MAX_WEBHOOK_BYTES
JSON_ONLY = "send the body as JSON, with Content-Type: application/json"


def refuse(
    event: dict[str, Any], *, auth_mode: Literal["bearer", "jwt"], bearer_accepted: Callable[[str | None], bool]
) -> dict[str, Any] | None:
    """The response for a request refused before routing, or None to route it. Authentication comes first."""
    path = str(event.get("rawPath", ""))
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    api = path.startswith("/api/")
    if (path == "/api" or api) and not (
        verified_by_gateway(event) if auth_mode == "jwt" else bearer_accepted(headers.get("authorization"))
    ):
        return refusal(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    if api and auth_mode == "jwt" and (beyond := beyond_access(event, path)):
        return refusal(403, beyond)
    if len(path.encode()) > MAX_PATH_BYTES:
        return refusal(414, f"the path is longer than {MAX_PATH_BYTES} bytes")
    limit = MAX_WEBHOOK_BYTES if path.startswith("/webhooks/") else MAX_BODY_BYTES
    if body_bytes(event) > limit:  # no request of ours is this big: refused before anything reads it
        return refusal(413, f"the body is larger than {limit} bytes")
    content_type = str(headers.get("content-type", "")).split(";")[0].strip().lower()
    if api and event.get("body") and content_type != "application/json":
        # Otherwise a body sent as a form (curl -d without a Content-Type) would be read as no body at all.
        return refusal(415, JSON_ONLY)
    if api and event.get("body") and (problem := unreadable_json(event)):
        return refusal(422, problem, errors=[{"in": "body", "field": "", "message": problem}])
    return None


def beyond_access(event: dict[str, Any], path: str) -> str | None:
    """Why the token's scopes or groups do not reach what the route needs; None when they do."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    needed = needed_access(method, path)
    granted = granted_access(event.get("requestContext", {}).get("authorizer") or {})
    if granted is not None and granted >= needed:
        return None
    has = f"grants {granted.name.lower()}" if granted else "grants no engagement scope or group"
    return f"your token {has}; {method} {path} needs {needed.name.lower()} (scope {SCOPE_PREFIX}/{needed.name.lower()})"


def body_bytes(event: dict[str, Any]) -> int:
    body = str(event.get("body") or "")
    return len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())


def unreadable_json(event: dict[str, Any]) -> str | None:
    """What the JSON parser would give up on with an error the resolver does not expect: nesting deeper than
    jsontext allows, an integer of over 4300 digits. (Plain syntax errors are the resolver's: 422 as usual.)"""
    body = event["body"]
    try:
        text = base64.b64decode(body) if event.get("isBase64Encoded") else body
        jsontext.loads(text)
    except json.JSONDecodeError:
        return None
    except jsontext.UnreadableJson as exc:
        return f"the body is not JSON we can read: {exc}"
    except ValueError as exc:  # an integer of over 4300 digits, bytes that are not UTF-8
        return f"the body is not JSON we can read: {type(exc).__name__}"
    return None
