"""Lambda: the HTTP API (API Gateway HTTP API, payload 2.0) and the dashboard it serves.

`/health`, the dashboard's static files and the signed unsubscribe routes are public; `/api/*` needs a bearer
token (or, with AUTH_MODE=jwt, API Gateway's JWT authorizer in front). The routes only wire: parse, call one
service of libs/engagement, shape the response. OpenAPI: /api/openapi.json.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from engagement import bootstrap
from engagement.adapters.pipeline_monitor import PipelineMonitor
from engagement.adapters.secrets import SecretSource
from engagement.adapters.store import (
    DecisionRepository,
    EmailRepository,
    InvalidCursor,
    SuppressionRepository,
    UserRepository,
)
from engagement.clock import clock_from_environment, format_instant, time_left_in
from engagement.config import ApiConfig
from engagement.domain import jsontext
from engagement.domain.conversion_rates import conversion_rates
from engagement.domain.lifecycle import InvalidTransition
from engagement.domain.models import Band, EmailStatus
from engagement.errors import Conflict, InvalidRequest, NotFound, TransientFailure
from engagement.http import pages
from engagement.http.auth import (
    SCOPE_PREFIX,
    BearerTokenAuth,
    acting_person,
    granted_access,
    needed_access,
    verified_by_gateway,
)
from engagement.http.views import (
    client_detail,
    client_summary,
    email_view,
    matches_filter,
    page_view,
)
from engagement.observability import logger, tracer
from engagement.services.clients import ClientChanges, ClientService, NewClient, Order
from engagement.services.conversion import Conversions
from engagement.services.review import Editor, EmailEdit
from engagement.services.stats import StatsService

config = ApiConfig.from_env()
users = UserRepository(config.users_table)
emails = EmailRepository(config.emails_table)
decisions = DecisionRepository(config.decisions_table)
clock = clock_from_environment()
delivery = bootstrap.delivery(
    config,
    users=users,
    emails=emails,
    decisions=decisions,
    suppressions=SuppressionRepository(config.suppressions_table),
    clock=clock,
)
conversions = Conversions(emails=emails, decisions=decisions, window=timedelta(days=config.conversion_window_days))
clients = ClientService(users=users, conversions=conversions, clock=clock)
editor = Editor(emails=emails, users=users, brand=config.brand, policy=config.guardrails, clock=clock)
stats = StatsService(
    users=users, emails=emails, decisions=decisions, clock=clock, max_age=timedelta(seconds=config.stats_max_age_s)
)
pipeline = PipelineMonitor(config.pipeline_queues)
auth = BearerTokenAuth(SecretSource(config.api_token, config.api_token_parameter).get)
app = APIGatewayHttpResolver(enable_validation=True)

MAX_PATH_BYTES = 1024
MAX_BODY_BYTES = 64 * 1024  # the largest request any route takes is a few KB (an email's edit)
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page")]
Cursor = Annotated[str | None, Query(max_length=2048, description="nextCursor from the previous page")]
JSON_ONLY = "send the body as JSON, with Content-Type: application/json"

# The dashboard: static files shipped with this function, read once at cold start.
DASHBOARD = Path(__file__).with_name("dashboard")
ASSET_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}  # fmt: skip
ASSETS = {path.name: path.read_text(encoding="utf-8") for path in DASHBOARD.glob("*") if path.suffix in ASSET_TYPES}
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


# ---- errors: domain exceptions to status codes, in one place --------------------------------------------------


def _error(
    status: int, message: str, errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None
) -> Response[str]:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[str]:
    errors = [
        {
            "in": str(error["loc"][0]) if error["loc"] else "request",
            "field": ".".join(str(part) for part in error["loc"][1:]),
            "message": str(error.get("msg", error.get("type"))),
        }
        for error in exc.errors()
    ]
    return _error(422, "invalid request", errors)


@app.exception_handler(InvalidRequest)
def _unacceptable(exc: InvalidRequest) -> Response[str]:
    errors = [{"in": "body", "field": field, "message": message} for field, message in exc.problems]
    return _error(422, "invalid request", errors)


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response[str]:
    return _error(exc.status_code, str(exc.msg))


@app.exception_handler(InvalidCursor)
def _invalid_cursor(exc: InvalidCursor) -> Response[str]:
    return _error(400, str(exc))


@app.exception_handler(NotFound)
def _missing(exc: NotFound) -> Response[str]:
    return _error(404, str(exc))


@app.not_found
def _no_route(exc: NotFoundError) -> Response[str]:
    """No route for this method and path: 405 with the methods the path takes (Allow), as HTTP asks, or 404."""
    event = app.current_event
    allowed = methods_for(event.path)
    if allowed:
        return _error(405, f"{event.http_method} is not a method {event.path} takes", headers={"Allow": allowed})
    return _error(404, "no such route")


@cache
def _route_patterns() -> list[tuple[re.Pattern[str], str]]:
    """Each documented path as a pattern, with the methods it takes (read from the OpenAPI document once, when a
    request first needs it: not at cold start)."""
    patterns = []
    for path, item in (app.get_openapi_schema().paths or {}).items():
        methods = [m.upper() for m in ("get", "post", "put", "patch", "delete") if getattr(item, m, None) is not None]
        if "GET" in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
        regex = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"
        patterns.append((re.compile(regex), ", ".join(methods)))
    return patterns


def methods_for(path: str) -> str | None:
    return next((methods for pattern, methods in _route_patterns() if pattern.match(path)), None)


@app.exception_handler(InvalidTransition)
def _invalid_transition(exc: InvalidTransition) -> Response[str]:
    return _error(409, str(exc))


@app.exception_handler(Conflict)
def _conflict(exc: Conflict) -> Response[str]:
    return _error(409, str(exc))


@app.exception_handler(TransientFailure)
def _unavailable(exc: TransientFailure) -> Response[str]:
    logger.warning("storage unavailable", extra={"error": str(exc)})
    return _error(503, "temporarily unavailable, retry shortly", headers={"Retry-After": "2"})


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return _error(500, "internal error")


# ---- public ---------------------------------------------------------------------------------------------------


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/")
def dashboard() -> Response[str]:
    return _static("index.html")


@app.get("/assets/<name>")
def asset(name: str) -> Response[str]:
    return _static(name)


def _static(name: str) -> Response[str]:
    suffix = Path(name).suffix
    if name not in ASSETS:  # only the files shipped, by exact name: no paths
        raise NotFound(f"no asset {name!r}")
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": DASHBOARD_POLICY, "X-Frame-Options": "DENY"}
    return Response(status_code=200, content_type=ASSET_TYPES[suffix], body=ASSETS[name], headers=headers)


UnsubscribeQuery = Annotated[str, Query(min_length=1, max_length=512)]
KeyId = Annotated[str | None, Query(max_length=64, description="The id of the key that signed the link")]


@app.get("/unsubscribe")
def unsubscribe_page(u: UnsubscribeQuery, e: UnsubscribeQuery, t: UnsubscribeQuery, k: KeyId = None) -> Response[str]:
    """The link in an email: a confirmation page (a GET must not unsubscribe: mail scanners follow links)."""
    if not delivery.link_is_valid(u, e, t, k):
        return _html(400, pages.invalid_link())
    return _html(200, pages.confirm_unsubscribe(app.current_event.raw_event.get("rawQueryString", "")))


@app.post("/unsubscribe")
def unsubscribe(u: UnsubscribeQuery, e: UnsubscribeQuery, t: UnsubscribeQuery, k: KeyId = None) -> Response[str]:
    """The confirmation form, and RFC 8058 one-click (List-Unsubscribe-Post): opts the client out at once."""
    if not delivery.unsubscribe(u, e, t, k):
        return _html(400, pages.invalid_link())
    return _html(200, pages.unsubscribed())


def _html(status: int, body: str) -> Response[str]:
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"}
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body, headers=headers)


# ---- clients --------------------------------------------------------------------------------------------------

BandFilter = Annotated[Band | None, Query(description="Only clients in this band (scored now)")]
Search = Annotated[str | None, Query(max_length=100, pattern=r"\S", description="Name or email prefix")]


@app.get("/api/users")
def list_users(
    limit: PageSize = 25, cursor: Cursor = None, band: BandFilter = None, q: Search = None
) -> dict[str, Any]:
    """Clients in table order. Filtered pages may hold fewer than limit items while nextCursor goes on."""
    now = clock.now()

    def matches(item: dict[str, Any]) -> bool:
        return matches_filter(client_summary(item, now), band, q)

    page = users.page(limit=limit, cursor=cursor, matches=matches if band or q else None)
    return page_view(page, lambda item: client_summary(item, now))


@app.post("/api/users")
def create_user(new: Annotated[NewClient, Body()]) -> Response[str]:
    item = clients.create(new)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(client_summary(item, clock.now())))  # fmt: skip


@app.get("/api/users/<user_id>")
def get_user(user_id: str) -> dict[str, Any]:
    item = users.get_item(user_id, consistent=False)
    if item is None:
        raise NotFound(f"no client {user_id!r}")
    return client_detail(
        item,
        now=clock.now(),
        recent_decisions=decisions.for_user(user_id, limit=20).items,
        recent_emails=emails.for_user(user_id, limit=10).items,
    )


@app.patch("/api/users/<user_id>")
def change_user(user_id: str, changes: Annotated[ClientChanges, Body()]) -> dict[str, Any]:
    return client_summary(clients.change(user_id, changes), clock.now())


@app.delete("/api/users/<user_id>")
def delete_user(user_id: str) -> dict[str, Any]:
    clients.delete(user_id)
    return {"userId": user_id, "deleted": True}


@app.post("/api/users/<user_id>/orders")
def record_order(user_id: str, order: Annotated[Order, Body()]) -> dict[str, Any]:
    """Count an order on the client (orderCount, averageOrderValue, lastOrderDate), and attribute it."""
    item, attributed_to = clients.record_order(user_id, order)
    return {"client": client_summary(item, clock.now()), "attributedTo": attributed_to}


@app.get("/api/users/<user_id>/emails")
def list_user_emails(user_id: str, limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
    return page_view(emails.for_user(user_id, limit=limit, cursor=cursor), email_view)


# ---- emails ---------------------------------------------------------------------------------------------------


@app.get("/api/emails")
def list_emails(
    status: Annotated[EmailStatus | None, Query(description="Only emails in this status")] = None,
    limit: PageSize = 25,
    cursor: Cursor = None,
) -> dict[str, Any]:
    if status is None:
        return page_view(emails.newest(limit=limit, cursor=cursor), email_view)
    return page_view(emails.with_status(status, limit=limit, cursor=cursor), email_view)


@app.get("/api/emails/<email_id>")
def get_email(email_id: str) -> dict[str, Any]:
    email = emails.get(email_id)
    if email is None:
        raise NotFound(f"no email {email_id!r}")
    return email_view(email)


@app.patch("/api/emails/<email_id>")
def edit_email(email_id: str, edit: Annotated[EmailEdit, Body()]) -> dict[str, Any]:
    """Edit a draft before approval: re-rendered, and the guardrails checked again (422 with each violation)."""
    return email_view(editor.edit(email_id, edit.model_copy(update={"editor": _operator(edit.editor)})))


def _operator(named: str) -> str:
    """Who acts: with a JWT, the person the token names (whatever name the body gives); with the shared token, which
    anyone may hold, the name the request gives."""
    if config.auth_mode == "jwt":
        return acting_person(app.current_event.raw_event["requestContext"].get("authorizer") or {}) or "unknown"
    return named


class Review(BaseModel):
    reviewer: str = Field(default="operator", min_length=1, max_length=100, pattern=r"^[\w .@-]+$")
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = Field(
        default=None, ge=0, le=1_000_000, description="The email's version you reviewed; 409 if it changed"
    )


@app.post("/api/emails/<email_id>/approve")
def approve_email(email_id: str, review: Annotated[Review | None, Body()] = None) -> dict[str, Any]:
    """Approve a draft: it is sent now, or scheduled for the client's sending window, or cancelled if it may not go."""
    review = review or Review()
    return email_view(delivery.approve(email_id, by=f"operator:{_operator(review.reviewer)}", version=review.version))


@app.post("/api/emails/<email_id>/reject")
def reject_email(email_id: str, review: Annotated[Review | None, Body()] = None) -> dict[str, Any]:
    review = review or Review()
    by = f"operator:{_operator(review.reviewer)}"
    return email_view(delivery.reject(email_id, by=by, reason=review.reason, version=review.version))


@app.get("/api/outbox")
def outbox(limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
    """Sent emails, newest first, with the headers they went out with."""
    return page_view(emails.with_status(EmailStatus.SENT, limit=limit, cursor=cursor), email_view)


# ---- stats and pipeline ---------------------------------------------------------------------------------------


@app.get("/api/stats")
def overview(refresh: Annotated[bool, Query(description="Recompute the cached figures now")] = False) -> dict[str, Any]:
    """Clients per band and emails per status (cached, with their age), decisions per reason and conversion."""
    return stats.overview(refresh=refresh, time_left=time_left_in(app.lambda_context))


@app.get("/api/stats/conversion")
def conversion() -> dict[str, Any]:
    """Orders within 30 days: after a sent email, and after a held_out decision (the holdout)."""
    return conversion_rates(decisions.conversion_counts())


@app.get("/api/pipeline")
def pipeline_health() -> dict[str, Any]:
    now = clock.now()
    return {"checkedAt": format_instant(now), "queues": pipeline.health(now)}


class Redrive(BaseModel):
    max: int = Field(default=100, ge=1, le=1000, description="Messages to move at most")


@app.post("/api/pipeline/dead-letters/<name>/redrive")
def redrive(name: str, request: Annotated[Redrive | None, Body()] = None) -> dict[str, int]:
    """Move dead letters back to the queue they came from, once their cause is fixed."""
    limit = (request or Redrive()).max
    return pipeline.redrive(name, limit=limit, time_left=time_left_in(app.lambda_context))


@app.get("/api/openapi.json")
def openapi() -> Response[str]:
    schema = app.get_openapi_json_schema(title="Client engagement API", version="1")
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=schema)


# ---- the entry point ------------------------------------------------------------------------------------------


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Authentication comes before routing and validation, so nothing about /api/* is told to a stranger.
    path = str(event.get("rawPath", ""))
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    if (path == "/api" or path.startswith("/api/")) and not _authorized(event, headers):
        return _refusal(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    if path.startswith("/api/") and config.auth_mode == "jwt" and (refused := _beyond_access(event, path)):
        return _refusal(403, refused)
    if len(path.encode()) > MAX_PATH_BYTES:  # ids this long cannot be keys (DynamoDB allows 2048 bytes)
        return _refusal(414, f"the path is longer than {MAX_PATH_BYTES} bytes")
    if _body_bytes(event) > MAX_BODY_BYTES:  # no request of ours is this big: refused before anything reads it
        return _refusal(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    content_type = str(headers.get("content-type", "")).split(";")[0].strip().lower()
    if path.startswith("/api/") and event.get("body") and content_type != "application/json":
        # Otherwise a body sent as a form (curl -d without a Content-Type) would be read as no body at all.
        return _refusal(415, JSON_ONLY)
    if path.startswith("/api/") and event.get("body") and (problem := _unreadable_json(event)):
        return _refusal(422, problem, errors=[{"in": "body", "field": "", "message": problem}])
    response = app.resolve(event, context)
    response.setdefault("headers", {}).update({"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})
    if path.startswith("/api/"):
        response["headers"].setdefault("Cache-Control", "no-store")
    return response


def _authorized(event: dict[str, Any], headers: dict[str, Any]) -> bool:
    if config.auth_mode == "jwt":
        return verified_by_gateway(event)
    return auth.is_authorized(headers.get("authorization"))


def _beyond_access(event: dict[str, Any], path: str) -> str | None:
    """Why the token's scopes or groups do not reach what the route needs; None when they do."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    needed = needed_access(method, path)
    granted = granted_access(event.get("requestContext", {}).get("authorizer") or {})
    if granted is not None and granted >= needed:
        return None
    has = f"grants {granted.name.lower()}" if granted else "grants no engagement scope or group"
    return f"your token {has}; {method} {path} needs {needed.name.lower()} (scope {SCOPE_PREFIX}/{needed.name.lower()})"


def _body_bytes(event: dict[str, Any]) -> int:
    body = str(event.get("body") or "")
    return len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())


def _unreadable_json(event: dict[str, Any]) -> str | None:
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


def _refusal(
    status: int, message: str, headers: dict[str, str] | None = None, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A response given before routing, in the API's error shape."""
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
