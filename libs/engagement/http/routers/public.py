"""What needs no token: the health check, the dashboard's files and the signed unsubscribe pages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from engagement.errors import NotFound
from engagement.http import pages
from engagement.http.context import ApiServices
from engagement.http.schemas import ERRORS, ErrorBody, Health, answers

ASSET_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}  # fmt: skip
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:{pictures}; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")


def dashboard_policy(picture_hosts: Iterable[str]) -> str:
    """The dashboard's CSP: pictures from its own origin, and over https from the hosts products' pictures may be on
    (an email's preview shows its product cards as the client will see them); nothing else."""
    hosts = sorted({host.lower() for host in picture_hosts if _HOST.match(host.lower())})
    return DASHBOARD_POLICY.format(pictures="".join(f" https://{host}" for host in hosts))


PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
TEXT: dict[str, Any] = {"schema": {"type": "string"}}
PAGE: dict[int, Any] = {
    200: {"description": "A page", "content": {"text/html; charset=utf-8": TEXT}},
    400: {"description": "The link is not one we signed", "content": {"text/html; charset=utf-8": TEXT}},
    422: {"description": ERRORS[422], "content": {"application/json": {"model": ErrorBody}}},
}
ASSET: dict[int, Any] = {
    200: {"description": "One of the dashboard's files", "content": dict.fromkeys(ASSET_TYPES.values(), TEXT)},
    404: {"description": "No such file", "content": {"application/json": {"model": ErrorBody}}},
}
UnsubscribeQuery = Annotated[str, Query(min_length=1, max_length=512)]
KeyId = Annotated[str | None, Query(max_length=64, description="The id of the key that signed the link")]


def router(api: ApiServices) -> Router:
    routes = Router()

    @routes.get("/health", responses=answers(Health))
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @routes.get("/", responses=PAGE)
    def dashboard() -> Response[str]:
        return static(api, "index.html")

    @routes.get("/assets/<name>", responses=ASSET)
    def asset(name: str) -> Response[str]:
        return static(api, name)

    @routes.get("/unsubscribe", responses=PAGE)
    def unsubscribe_page(
        u: UnsubscribeQuery, e: UnsubscribeQuery, t: UnsubscribeQuery, k: KeyId = None
    ) -> Response[str]:
        """The link in an email: a confirmation page (a GET must not unsubscribe: mail scanners follow links)."""
        if not api.delivery.link_is_valid(u, e, t, k):
            return html(400, pages.invalid_link())
        return html(200, pages.confirm_unsubscribe(routes.current_event.raw_event.get("rawQueryString", "")))

    @routes.post("/unsubscribe", responses=PAGE)
    def unsubscribe(u: UnsubscribeQuery, e: UnsubscribeQuery, t: UnsubscribeQuery, k: KeyId = None) -> Response[str]:
        """The confirmation form, and RFC 8058 one-click (List-Unsubscribe-Post): opts the client out at once."""
        if not api.delivery.unsubscribe(u, e, t, k):
            return html(400, pages.invalid_link())
        return html(200, pages.unsubscribed())

    return routes


def static(api: ApiServices, name: str) -> Response[str]:
    suffix = PurePath(name).suffix
    if name not in api.assets or suffix not in ASSET_TYPES:  # only the files shipped, by exact name: no paths
        raise NotFound(f"no asset {name!r}")
    policy = dashboard_policy(api.picture_hosts)
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": policy, "X-Frame-Options": "DENY"}
    return Response(status_code=200, content_type=ASSET_TYPES[suffix], body=api.assets[name], headers=headers)


def html(status: int, body: str) -> Response[str]:
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"}
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body, headers=headers)


def read_assets(folder: Path) -> dict[str, str]:
    """The dashboard's files (those of a type it serves), by name."""
    return {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*") if path.suffix in ASSET_TYPES}
