"""The HTTP API put together: the routers, the error handlers, 405 for a method a path does not take, the OpenAPI
document, and the guard before routing. `HttpApi.handle` is what the API's Lambda handler calls."""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from engagement.http import guard
from engagement.http.context import ApiServices
from engagement.http.errors import error_response, register_error_handlers
from engagement.http.routers import catalog, clients, emails, operations, public, webhooks

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class HttpApi:
    def __init__(self, services: ApiServices) -> None:
        self.services = services
        self.resolver = APIGatewayHttpResolver(enable_validation=True)
        for area in (public, clients, catalog, emails, operations, webhooks):
            self.resolver.include_router(area.router(services))
        register_error_handlers(self.resolver)
        self.resolver.not_found(self._no_route)

        @self.resolver.get("/api/openapi.json", responses={200: {"description": "This document", "content": {
            "application/json": {"schema": {"type": "object"}}}}})  # fmt: skip
        def openapi() -> Response[str]:
            schema = self.resolver.get_openapi_json_schema(title="Client engagement API", version="1")
            return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=schema)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        refused = guard.refuse(
            event, auth_mode=self.services.auth_mode, bearer_accepted=self.services.auth.is_authorized
        )
        if refused is not None:
            return refused
        response = self.resolver.resolve(event, context)
        response.setdefault("headers", {}).update(SECURITY_HEADERS)
        if str(event.get("rawPath", "")).startswith("/api/"):
            response["headers"].setdefault("Cache-Control", "no-store")
        return response

    def methods_for(self, path: str) -> str | None:
        """The methods a path takes (HEAD with GET), or None when no route has the path."""
        return next((methods for pattern, methods in self._route_patterns if pattern.match(path)), None)

    def _no_route(self, exc: NotFoundError) -> Response[str]:
        """No route for this method and path: 405 with the methods the path takes (Allow), as HTTP asks, or 404."""
        event = self.resolver.current_event
        allowed = self.methods_for(event.path)
        if allowed:
            return error_response(
                405, f"{event.http_method} is not a method {event.path} takes", headers={"Allow": allowed}
            )
        return error_response(404, "no such route")

    @cached_property
    def _route_patterns(self) -> list[tuple[re.Pattern[str], str]]:
        """Each documented path as a pattern, with the methods it takes (read from the OpenAPI document once, when a
        request first needs it: not at cold start)."""
        patterns = []
        for path, item in (self.resolver.get_openapi_schema().paths or {}).items():
            methods = [
                m.upper() for m in ("get", "post", "put", "patch", "delete") if getattr(item, m, None) is not None
            ]
            if "GET" in methods:
                methods.insert(methods.index("GET") + 1, "HEAD")
            regex = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"
            patterns.append((re.compile(regex), ", ".join(methods)))
        return patterns


@lru_cache(maxsize=4)
def http_api(services: ApiServices) -> HttpApi:
    """The HttpApi over these services, made once (at cold start: the handler asks for it at import)."""
    return HttpApi(services)
