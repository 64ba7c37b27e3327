"""Signed unsubscribe links (HMAC-SHA256): the link names the client and the email, and cannot be forged."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode


class UnsubscribeTokens:
    def __init__(self, secret: bytes, public_base_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the unsubscribe secret must be at least 16 bytes")
        self._secret = secret
        self.public_base_url = public_base_url.rstrip("/")

    def token(self, user_id: str, email_id: str) -> str:
        message = f"unsubscribe\n{user_id}\n{email_id}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, user_id: str, email_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(user_id, email_id).encode(), token.encode())

    def url(self, user_id: str, email_id: str) -> str:
        query = urlencode({"u": user_id, "e": email_id, "t": self.token(user_id, email_id)})
        return f"{self.public_base_url}/unsubscribe?{query}"
