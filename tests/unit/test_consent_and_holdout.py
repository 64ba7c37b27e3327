from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.domain.consent import UnsubscribeTokens
from engagement.domain.policy import in_holdout

TOKENS = UnsubscribeTokens(b"an unsubscribe secret of 32 bytes", "https://api.example.com/")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_an_unsubscribe_link_names_the_client_the_email_and_its_key_and_verifies() -> None:
    link = urlsplit(TOKENS.url("u-1", "e-1"))
    query = _query(TOKENS.url("u-1", "e-1"))
    assert (link.scheme, link.netloc, link.path) == ("https", "api.example.com", "/unsubscribe")
    assert (query["u"], query["e"], query["k"]) == ("u-1", "e-1", TOKENS.current.kid)
    assert TOKENS.verify("u-1", "e-1", query["t"], query["k"])
    assert not TOKENS.verify("u-1", "e-1", query["t"], "another-key")


def test_a_token_cannot_be_moved_between_client_and_email_through_a_line_break() -> None:
    """The old signed text "unsubscribe\n{user}\n{email}" was the same for ("u-1\ne-9", "x") and ("u-1", "e-9\nx")."""
    query = _query(TOKENS.url("u-1\ne-9", "x"))
    assert not TOKENS.verify("u-1", "e-9\nx", query["t"], query["k"])
    assert not TOKENS.verify("u-1\ne-9", "x", query["t"], query["k"])  # control characters are never signed for


def test_after_a_rotation_the_previous_keys_links_verify_only_while_it_is_kept() -> None:
    old = UnsubscribeTokens(b"the key before the rotation", "https://api.example.com")
    sent = _query(old.url("u-1", "e-1"))
    rotated = UnsubscribeTokens(b"the key after the rotation!", "https://api.example.com",
                                previous=b"the key before the rotation")  # fmt: skip
    expired = UnsubscribeTokens(b"the key after the rotation!", "https://api.example.com")

    assert rotated.verify("u-1", "e-1", sent["t"], sent["k"])
    assert not expired.verify("u-1", "e-1", sent["t"], sent["k"])
    fresh = _query(rotated.url("u-1", "e-1"))
    assert fresh["k"] == rotated.current.kid != sent["k"]
    assert rotated.verify("u-1", "e-1", fresh["t"], fresh["k"])


def test_a_link_sent_before_key_ids_still_verifies_with_the_current_key() -> None:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(b"an unsubscribe secret of 32 bytes", b"unsubscribe\nu-1\ne-1", hashlib.sha256).digest()
    legacy = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert TOKENS.verify("u-1", "e-1", legacy)
    assert not TOKENS.verify("u-2", "e-1", legacy)


@pytest.mark.parametrize(
    ("user", "email", "token_of"),
    [("u-2", "e-1", ("u-1", "e-1")), ("u-1", "e-2", ("u-1", "e-1"))],
)
def test_a_token_for_another_client_or_email_is_refused(user: str, email: str, token_of: tuple[str, str]) -> None:
    assert not TOKENS.verify(user, email, TOKENS.token(*token_of), TOKENS.current.kid)


@given(st.text(max_size=50))
def test_a_tampered_token_is_refused(token: str) -> None:
    genuine = TOKENS.token("u-1", "e-1")
    if token != genuine:
        assert not TOKENS.verify("u-1", "e-1", token, TOKENS.current.kid)
        assert not TOKENS.verify("u-1", "e-1", token)


def test_another_secret_makes_other_tokens() -> None:
    other = UnsubscribeTokens(b"another secret, also long enough", "https://api.example.com")
    assert not other.verify("u-1", "e-1", TOKENS.token("u-1", "e-1"), TOKENS.current.kid)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        UnsubscribeTokens(b"short", "https://api.example.com")


@pytest.mark.parametrize("percent", [0, 5, 10, 25, 50])
def test_the_holdout_share_is_within_two_points_of_the_setting_over_10000_ids(percent: float) -> None:
    held = sum(in_holdout(f"client-{i}", percent) for i in range(10_000))
    assert abs(held / 100 - percent) <= 2


def test_the_holdout_is_deterministic_and_nested() -> None:
    ids = [f"client-{i}" for i in range(2000)]
    assert [in_holdout(i, 10) for i in ids] == [in_holdout(i, 10) for i in ids]
    assert all(in_holdout(i, 20) for i in ids if in_holdout(i, 10))  # raising the share only adds clients
