"""The API's error body, `{"message": …, "errors": [{"in", "field", "message"}]}`, and the one place where exceptions
become status codes."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from engagement.adapters.store import InvalidCursor
from engagement.domain.lifecycle import InvalidTransition
from engagement.errors import Conflict, InvalidRequest, NotFound, TransientFailure, dotted
from engagement.observability import logger

Problems = list[dict[str, str]]


def error_body(message: str, errors: Problems | None = None, reason: str | None = None) -> str:
    body: dict[str, Any] = {"message": message}
    if reason:
        body["reason"] = reason
    if errors:
        body["errors"] = errors
    return json.dumps(body)


def error_response(
    status: int,
    message: str,
    errors: Problems | None = None,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=error_body(message, errors, reason),
        headers=headers,
    )  # fmt: skip


def refusal(
    status: int, message: str, headers: dict[str, str] | None = None, errors: Problems | None = None
) -> dict[str, Any]:
    """A response given before routing (API Gateway's payload 2.0 shape), with the same body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **(headers or {})},
        "body": error_body(message, errors),
        "isBase64Encoded": False,
    }


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[str]:
        errors = [
            {
                "in": str(error["loc"][0]) if error["loc"] else "request",
                "field": dotted(error["loc"][1:]),
                "message": str(error.get("msg", error.get("type"))),
            }
            for error in exc.errors()
        ]
        return error_response(422, "invalid request", errors)

    @app.exception_handler(InvalidRequest)
    def _unacceptable(exc: InvalidRequest) -> Response[str]:
        errors = [{"in": "body", "field": field, "message": message} for field, message in exc.problems]
        return error_response(422, "invalid request", errors)

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[str]:
        return error_response(exc.status_code, str(exc.msg))

    @app.exception_handler(InvalidCursor)
    def _invalid_cursor(exc: InvalidCursor) -> Response[str]:
        return error_response(400, str(exc))

    @app.exception_handler(NotFound)
    def _missing(exc: NotFound) -> Response[str]:
        return error_response(404, str(exc))

    @app.exception_handler(InvalidTransition)
    @app.exception_handler(Conflict)
    def _conflict(exc: Exception) -> Response[str]:
        return error_response(409, str(exc), reason=getattr(exc, "reason", None))

    @app.exception_handler(TransientFailure)
    def _unavailable(exc: TransientFailure) -> Response[str]:
        logger.warning("storage unavailable", extra={"error": str(exc)})
        return error_response(503, "temporarily unavailable, retry shortly", headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(500, "internal error")
