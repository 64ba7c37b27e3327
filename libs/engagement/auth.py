"""Bearer-token authentication for the /api routes."""

from __future__ import annotations

import hmac
from collections.abc import Callable


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
