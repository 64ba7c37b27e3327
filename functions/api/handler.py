"""Lambda: the HTTP API (API Gateway HTTP API, payload 2.0) and the dashboard it serves.

`/health`, the dashboard's static files and the signed unsubscribe routes are public; `/api/*` needs a bearer
token (or, with AUTH_MODE=jwt, API Gateway's JWT authorizer in front). The routes live in engagement.http.routers;
each parses, calls one service and shapes the response. OpenAPI: /api/openapi.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.config import ApiConfig
from engagement.http.app import http_api
from engagement.http.routers.public import read_assets
from engagement.observability import logger, tracer

config = ApiConfig.from_env()
services = bootstrap.api(config, assets=read_assets(Path(__file__).with_name("dashboard")))
http_api(services)  # the routes, built at cold start


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http_api(services).handle(event, context)
