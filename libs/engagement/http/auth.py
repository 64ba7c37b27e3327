"""Who may call the /api routes, and what each may do.

Bearer mode: one shared token, and whoever holds it may do everything (the README says so). JWT mode: API Gateway's
authorizer checks the token, and each route asks for an access level the caller's scopes (or groups) must reach:

- read: look (every GET);
- review: work the queue day to day (edit, approve and reject drafts; add and change clients; record orders);
- admin: everything, including deleting clients and redriving dead letters.

Terraform gives the same routes the same scopes (authorization_scopes), and the function checks them again, so a
misconfigured gateway still refuses. The person acting is taken from the token (email, else sub), never from the
request's body.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any


class Access(IntEnum):
    READ = 1
    REVIEW = 2
    ADMIN = 3


SCOPE_PREFIX = "engagement"  # the resource server's identifier: scopes are engagement/read, /review, /admin
_LEVELS = {level.name.lower(): level for level in Access}


def needed_access(method: str, path: str) -> Access:
    """The level a request to /api needs (terraform/modules/api gives these routes the same scopes)."""
    parts = path.strip("/").split("/")
    area = parts[1] if len(parts) > 1 else ""
    if method in ("GET", "HEAD"):
        return Access.READ
    if method == "DELETE" or area == "pipeline":
        return Access.ADMIN
    if area in ("emails", "users"):
        return Access.REVIEW
    return Access.ADMIN  # whatever else a future route may do: the highest, until it says otherwise


def granted_access(authorizer: Mapping[str, Any]) -> Access | None:
    """The highest level the gateway's verified token grants: scopes (engagement/review) or groups (review, or
    engagement-review, in cognito:groups or groups); None if it grants none."""
    jwt = authorizer.get("jwt") or {}
    claims = jwt.get("claims") or {}
    names = [*(jwt.get("scopes") or []), *str(claims.get("scope") or claims.get("scp") or "").split()]
    for claim in ("cognito:groups", "groups"):
        groups = claims.get(claim) or []
        names += groups.strip("[]").replace(",", " ").split() if isinstance(groups, str) else list(groups)
    levels = [_LEVELS[level] for name in names if (level := _level_name(str(name))) in _LEVELS]
    return max(levels) if levels else None


def _level_name(name: str) -> str:
    for separator in ("/", "-", ":"):
        prefix = SCOPE_PREFIX + separator
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def acting_person(authorizer: Mapping[str, Any]) -> str | None:
    """Who the verified token names: their email, else the subject."""
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    person = str(claims.get("email") or claims.get("sub") or "").strip()
    return person[:100] or None


def who_acts(auth_mode: str, raw_event: Mapping[str, Any], named: str) -> str:
    """Who acts: with a JWT, the person the token names (whatever name the body gives); with the shared token,
    which anyone may hold, the name the request gives."""
    if auth_mode == "jwt":
        return acting_person(raw_event["requestContext"].get("authorizer") or {}) or "unknown"
    return named


class BearerTokenAuth:
    """Compares the presented token with the expected one in constant time.

    The expected token comes from a callable so it can be read from SSM through a cache and rotated without a
    redeploy.
    """

    def __init__(self, expected_token: Callable[[], str | None]) -> None:
        self._expected_token = expected_token

    def is_authorized(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, presented = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return False
        expected = self._expected_token()
        if not expected:  # no token configured: nobody gets in
            return False
        return hmac.compare_digest(presented.strip().encode(), expected.encode())


def verified_by_gateway(event: Mapping[str, Any]) -> bool:
    """With a JWT authorizer on the /api routes, API Gateway has checked the token (signature, issuer, audience,
    expiry) and passes its claims; a request without them did not come through the authorizer."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    return bool((authorizer.get("jwt") or {}).get("claims"))
