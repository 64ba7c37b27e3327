"""Lambda: the HTTP API (API Gateway HTTP API, payload 2.0). /health is public; /api/* needs a bearer token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.api_views import client_detail, client_summary, email_view, page_view
from engagement.auth import BearerTokenAuth
from engagement.clock import SystemClock
from engagement.config import ApiConfig
from engagement.errors import TransientFailure
from engagement.models import EmailStatus
from engagement.observability import logger, tracer
from engagement.store import DecisionRepository, EmailRepository, InvalidCursor, UserRepository

config = ApiConfig.from_env()
users = UserRepository(config.users_table)
emails = EmailRepository(config.emails_table)
decisions = DecisionRepository(config.decisions_table)
clock = SystemClock()


def _token_source(api_config: ApiConfig) -> Callable[[], str]:
    if api_config.api_token is not None:
        token = api_config.api_token
        return lambda: token
    name = str(api_config.api_token_parameter)
    return lambda: str(parameters.get_parameter(name, decrypt=True, max_age=300))


auth = BearerTokenAuth(_token_source(config))
app = APIGatewayHttpResolver(enable_validation=True)

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


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Authentication comes before routing and validation, so nothing about /api/* is told to a stranger.
    path = str(event.get("rawPath", ""))
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    if (path == "/api" or path.startswith("/api/")) and not auth.is_authorized(headers.get("authorization")):
        return {
            "statusCode": 401,
            "headers": {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"},
            "body": json.dumps({"message": "missing or invalid bearer token"}),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)
