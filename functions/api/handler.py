"""Lambda: the HTTP API (API Gateway HTTP API, payload 2.0). /health is public; /api/* needs a bearer token."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from engagement import bootstrap, pages
from engagement.api_views import client_detail, client_summary, conversion_view, email_view, page_view
from engagement.auth import BearerTokenAuth
from engagement.clock import SystemClock, format_instant
from engagement.config import ApiConfig
from engagement.conversion import Conversions
from engagement.errors import NotFound, TransientFailure
from engagement.lifecycle import InvalidTransition
from engagement.models import EmailStatus
from engagement.observability import logger, tracer
from engagement.secrets import SecretSource
from engagement.store import DecisionRepository, EmailRepository, InvalidCursor, SuppressionRepository, UserRepository

config = ApiConfig.from_env()
users = UserRepository(config.users_table)
emails = EmailRepository(config.emails_table)
decisions = DecisionRepository(config.decisions_table)
clock = SystemClock()
delivery = bootstrap.delivery(
    config,
    users=users,
    emails=emails,
    decisions=decisions,
    suppressions=SuppressionRepository(config.suppressions_table),
    clock=clock,
)
conversions = Conversions(emails=emails, decisions=decisions, window=timedelta(days=config.conversion_window_days))
auth = BearerTokenAuth(SecretSource(config.api_token, config.api_token_parameter).get)
app = APIGatewayHttpResolver(enable_validation=True)

MAX_PATH_BYTES = 1024
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page")]
Cursor = Annotated[str | None, Query(max_length=2048, description="nextCursor from the previous page")]


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


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response[str]:
    return _error(exc.status_code, str(exc.msg))


@app.exception_handler(InvalidCursor)
def _invalid_cursor(exc: InvalidCursor) -> Response[str]:
    return _error(400, str(exc))


@app.exception_handler(NotFound)
def _missing(exc: NotFound) -> Response[str]:
    return _error(404, str(exc))


@app.exception_handler(InvalidTransition)
def _conflict(exc: InvalidTransition) -> Response[str]:
    return _error(409, str(exc))


@app.exception_handler(TransientFailure)
def _unavailable(exc: TransientFailure) -> Response[str]:
    logger.warning("storage unavailable", extra={"error": str(exc)})
    return _error(503, "temporarily unavailable, retry shortly", headers={"Retry-After": "2"})


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return _error(500, "internal error")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/users")
def list_users(limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
    return page_view(users.page(limit=limit, cursor=cursor), client_summary)


@app.get("/api/users/<user_id>")
def get_user(user_id: str) -> dict[str, Any]:
    item = users.get_item(user_id, consistent=False)
    if item is None:
        raise NotFoundError(f"no client {user_id!r}")
    return client_detail(
        item,
        now=clock.now(),
        recent_decisions=decisions.for_user(user_id, limit=10).items,
        recent_emails=emails.for_user(user_id, limit=10).items,
    )


@app.get("/api/users/<user_id>/emails")
def list_user_emails(user_id: str, limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
    return page_view(emails.for_user(user_id, limit=limit, cursor=cursor), email_view)


class Order(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    ordered_at: AwareDatetime | None = Field(default=None, alias="orderedAt", description="ISO 8601 with offset")


@app.post("/api/users/<user_id>/orders")
def record_order(user_id: str, order: Annotated[Order | None, Body()] = None) -> dict[str, Any]:
    """An order placed outside the users table: attributed to the email (or holdout decision) it follows."""
    now = clock.now()
    at = (order.ordered_at if order else None) or now
    problem = None
    if at > now + timedelta(minutes=5):  # a little clock skew is forgiven
        problem = "an order cannot be placed in the future"
    elif at < now - timedelta(days=365):
        problem = "an order more than a year old converts nothing"
    if problem:
        raise RequestValidationError([{"loc": ("body", "orderedAt"), "msg": problem}])
    if users.get_item(user_id, consistent=False) is None:
        raise NotFoundError(f"no client {user_id!r}")
    return {"userId": user_id, "orderedAt": format_instant(at), "attributedTo": conversions.order_placed(user_id, at)}


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
        raise NotFoundError(f"no email {email_id!r}")
    return email_view(email)


class Review(BaseModel):
    reviewer: str = Field(default="operator", min_length=1, max_length=100, pattern=r"^[\w .@-]+$")
    reason: str | None = Field(default=None, max_length=500)


@app.post("/api/emails/<email_id>/approve")
def approve_email(email_id: str, review: Annotated[Review | None, Body()] = None) -> dict[str, Any]:
    """Approve a draft: it is sent now, or scheduled for the client's sending window, or cancelled if it may not go."""
    reviewer = (review or Review()).reviewer
    return email_view(delivery.approve(email_id, by=f"operator:{reviewer}"))


@app.post("/api/emails/<email_id>/reject")
def reject_email(email_id: str, review: Annotated[Review | None, Body()] = None) -> dict[str, Any]:
    review = review or Review()
    return email_view(delivery.reject(email_id, by=f"operator:{review.reviewer}", reason=review.reason))


@app.get("/api/outbox")
def outbox(limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
    """Sent emails, newest first, with the headers they went out with."""
    return page_view(emails.with_status(EmailStatus.SENT, limit=limit, cursor=cursor), email_view)


@app.get("/api/stats/conversion")
def conversion() -> dict[str, Any]:
    """Orders within 30 days: after a sent email, and after a held_out decision (the holdout)."""
    return conversion_view(decisions.conversion_counts())


UnsubscribeQuery = Annotated[str, Query(min_length=1, max_length=512)]


@app.get("/unsubscribe")
def unsubscribe_page(u: UnsubscribeQuery, e: UnsubscribeQuery, t: UnsubscribeQuery) -> Response[str]:
    """The link in an email: a confirmation page (a GET must not unsubscribe: mail scanners follow links)."""
    if not delivery.link_is_valid(u, e, t):
        return _html(400, pages.invalid_link())
    return _html(200, pages.confirm_unsubscribe(app.current_event.raw_event.get("rawQueryString", "")))


@app.post("/unsubscribe")
def unsubscribe(u: UnsubscribeQuery, e: UnsubscribeQuery, t: UnsubscribeQuery) -> Response[str]:
    """The confirmation form, and RFC 8058 one-click (List-Unsubscribe-Post): opts the client out at once."""
    if not delivery.unsubscribe(u, e, t):
        return _html(400, pages.invalid_link())
    return _html(200, pages.unsubscribed())


def _html(status: int, body: str) -> Response[str]:
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body,
                    headers={"Cache-Control": "no-store"})  # fmt: skip


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Authentication comes before routing and validation, so nothing about /api/* is told to a stranger.
    path = str(event.get("rawPath", ""))
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    if (path == "/api" or path.startswith("/api/")) and not auth.is_authorized(headers.get("authorization")):
        return _refusal(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    if len(path.encode()) > MAX_PATH_BYTES:  # ids this long cannot be keys (DynamoDB allows 2048 bytes)
        return _refusal(414, f"the path is longer than {MAX_PATH_BYTES} bytes")
    content_type = str(headers.get("content-type", "")).split(";")[0].strip().lower()
    if path.startswith("/api/") and event.get("body") and content_type != "application/json":
        # Otherwise a body sent as a form (curl -d without a Content-Type) would be read as no body at all.
        return _refusal(415, "send the body as JSON, with Content-Type: application/json")
    return app.resolve(event, context)


def _refusal(status: int, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A response given before routing, in the API's error shape."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps({"message": message}),
        "isBase64Encoded": False,
    }
