"""Products in an email's text and on its cards: where a title is named, the link a card carries, a price as shown.
Pure."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engagement.writer.base import EmailContent

UTM_SOURCE, UTM_MEDIUM, UTM_CAMPAIGN = "client-engagement", "email", "winback"
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
# What stands in for the paragraphs when every one of them named a product the email no longer shows.
NEUTRAL_PARAGRAPH = "We picked a few things we think you will like."


def with_utm(url: str, email_id: str) -> str:
    """The product's page with UTM parameters naming the email (its own query kept, any utm_ of its own replaced)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith("utm_")]
    query += [("utm_source", UTM_SOURCE), ("utm_medium", UTM_MEDIUM), ("utm_campaign", UTM_CAMPAIGN),
              ("utm_content", email_id)]  # fmt: skip
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def price_text(price: Decimal, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{price:,}" if symbol else f"{price:,} {currency}"


def mentions(text: str, title: str) -> bool:
    """Whether the text names the product: its title, whole words, any case. Linear: one find per occurrence."""
    haystack, needle = text.casefold(), " ".join(title.split()).casefold()
    if not needle:
        return False
    at = haystack.find(needle)
    while at != -1:
        before = haystack[at - 1] if at > 0 else " "
        after_at = at + len(needle)
        after = haystack[after_at] if after_at < len(haystack) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        at = haystack.find(needle, at + 1)
    return False


def same_page(url: str, other: str) -> bool:
    """Whether two links open the same page (host and path; query and fragment aside)."""
    a, b = urlsplit(url if "://" in url else f"https://{url}"), urlsplit(other)
    host = (a.hostname or "").removeprefix("www."), (b.hostname or "").removeprefix("www.")
    return host[0] == host[1] and a.path.rstrip("/") == b.path.rstrip("/")


def without_mentions(content: EmailContent, titles: Iterable[str]) -> tuple[EmailContent, int]:
    """The content without the paragraphs that name any of these products (a product the email no longer shows),
    and how many were taken out; a neutral paragraph stands in if none would be left. The other fields never name
    a product (the guardrails see to it)."""
    titles = list(titles)
    kept = tuple(p for p in content.paragraphs if not any(mentions(p, title) for title in titles))
    removed = len(content.paragraphs) - len(kept)
    if not removed:
        return content, 0
    return content.model_copy(update={"paragraphs": kept or (NEUTRAL_PARAGRAPH,)}), removed
