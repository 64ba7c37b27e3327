"""Authentication for the /api routes: a shared bearer token, or API Gateway's JWT authorizer."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any


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
