"""Signed unsubscribe links (HMAC-SHA256): the link names the client, the email and the key that signed it, and
cannot be forged.

What is signed is an unambiguous encoding (canonical JSON of the purpose, the key id, the client and the email), so
no (client, email) pair can be made to sign the same bytes as another. Each key has an id derived from it (`k` in
the link); when the key is rotated, the previous one still verifies the links it signed for a while (the caller
keeps it only as long as that period lasts), so a rotation does not break links already sent. Links sent before key
ids existed (no `k`) are verified with the current key in their original form, which is unambiguous now that a
client id can hold no control character.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

from engagement.domain.models import has_control_characters

MIN_SECRET_BYTES = 16
UNSUBSCRIBE_SLOT = "{{unsubscribe_url}}"  # where a rendered email takes its link, filled in at send


class SigningKey:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"an unsubscribe key must be at least {MIN_SECRET_BYTES} bytes")
        self.secret = secret
        # Names the key without revealing it: a MAC of a fixed label, so the id says nothing about the secret.
        digest = hmac.new(secret, b"unsubscribe key id", hashlib.sha256).digest()
        self.kid = base64.b32encode(digest[:5]).decode().lower()

    def sign(self, message: bytes) -> str:
        digest = hmac.new(self.secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _signed_bytes(kid: str, user_id: str, email_id: str) -> bytes:
    return json.dumps(["unsubscribe", kid, user_id, email_id], ensure_ascii=True, separators=(",", ":")).encode()


def _unkeyed_bytes(user_id: str, email_id: str) -> bytes:
    """The form links had before key ids: ambiguous for a client id holding a newline, so only used without one."""
    return f"unsubscribe\n{user_id}\n{email_id}".encode()


class UnsubscribeTokens:
    def __init__(self, secret: bytes, public_base_url: str, *, previous: bytes | None = None) -> None:
        self.current = SigningKey(secret)
        self.previous = SigningKey(previous) if previous else None
        self.public_base_url = public_base_url.rstrip("/")

    def token(self, user_id: str, email_id: str) -> str:
        return self.current.sign(_signed_bytes(self.current.kid, user_id, email_id))

    def verify(self, user_id: str, email_id: str, token: str, kid: str | None = None) -> bool:
        """Whether a link's token was signed by us for this client and email: with the key its id names (the
        previous one while it is kept), or, for a link without a key id, the current key in the original form."""
        if has_control_characters(user_id) or has_control_characters(email_id):
            return False
        if kid is None:
            expected = self.current.sign(_unkeyed_bytes(user_id, email_id))
        else:
            key = next((k for k in (self.current, self.previous) if k is not None and k.kid == kid), None)
            if key is None:
                return False
            expected = key.sign(_signed_bytes(kid, user_id, email_id))
        return hmac.compare_digest(expected.encode(), token.encode())

    def url(self, user_id: str, email_id: str) -> str:
        query = urlencode({"u": user_id, "e": email_id, "k": self.current.kid, "t": self.token(user_id, email_id)})
        return f"{self.public_base_url}/unsubscribe?{query}"
