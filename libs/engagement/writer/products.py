"""Products in an email's text and on its cards: where a title is named, the link a card carries, a price as shown.
Pure."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engagement.domain.orders import minor_unit
from engagement.writer.base import EmailContent

UTM_SOURCE, UTM_MEDIUM, UTM_CAMPAIGN = "client-engagement", "email", "winback"
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
# What stands in for the paragraphs when every one of them named a product the email no longer shows.
NEUTRAL_PARAGRAPH = "We picked a few things we think you will like."
CARDS_BELOW = "they are just below."  # how the template's paragraph points at the cards: gone with the last card


def with_utm(url: str, email_id: str) -> str:
    """The product's page with UTM parameters naming the email (its own query kept, any utm_ of its own replaced)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith("utm_")]
    query += [("utm_source", UTM_SOURCE), ("utm_medium", UTM_MEDIUM), ("utm_campaign", UTM_CAMPAIGN),
              ("utm_content", email_id)]  # fmt: skip
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def price_text(price: Decimal, currency: str) -> str:
    """As a card shows it, to the currency's minor unit: "$49.90" (a store may hand back 49.9), "1,500 JPY"."""
    shown = f"{price.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN):,}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{shown}" if symbol else f"{shown} {currency}"


def spoken(text: str) -> str:
    """Text as it reads, for finding names in it: compatibility-normalised (full-width and other lookalike letters
    become plain ones), any case, without format characters (zero-width and bidi marks), every run of anything but
    letters and digits one space ("Linen-Trousers", "Linen\u00a0 Trousers" and "linen trousers" read alike).
    Linear in the text's length."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch if ch.isalnum() else " " for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(kept.split())


def names(spoken_text: str, title: str) -> bool:
    """Whether text (already spoken()) names the product: its title as it reads, whole words; or its first 80
    characters, which is all the writer was shown of a long one."""
    forms = {spoken(title), spoken(title[:80])}
    padded = f" {spoken_text} "
    return any(form and f" {form} " in padded for form in forms)


def mentions(text: str, title: str) -> bool:
    """Whether the text names the product (see names)."""
    return names(spoken(text), title)


def without_names(spoken_text: str, titles: Iterable[str]) -> str:
    """The spoken text with these products' names blanked out: a name inside a longer one ("Linen Shirt" in "Linen
    Shirt Dress") is not a mention of its own."""
    padded = f" {spoken_text} "
    for form in sorted({spoken(title) for title in titles} - {""}, key=len, reverse=True):
        padded = padded.replace(f" {form} ", " | ")
    return padded


def page_of(url: str) -> tuple[str, str]:
    """A link's host and path as a page: no www., any case, no trailing slash or sentence punctuation."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = (parts.hostname or "").removeprefix("www.")
    return host, parts.path.casefold().rstrip("/.,;:!?)'\"")


def same_page(url: str, other: str) -> bool:
    """Whether two links open the same page (host and path; query, fragment and case aside)."""
    return page_of(url) == page_of(other)


def product_sections(urls: Iterable[str]) -> set[tuple[str, str]]:
    """Where the shop's product pages live (host and the path's folder: ("shop.example.com", "/products/")), from
    the catalog's own links."""
    sections = set()
    for url in urls:
        host, path = page_of(url)
        folder = path.rpartition("/")[0]
        if folder:
            sections.add((host, folder + "/"))
    return sections


def without_mentions(
    content: EmailContent, titles: Iterable[str], still_shown: Iterable[str] = ()
) -> tuple[EmailContent, int]:
    """The content without the paragraphs that name any of these products (a product the email no longer shows;
    a name inside a product still shown does not count), nor, when no product is shown, the template's pointer to
    the cards; and how many were taken out. A neutral paragraph stands in if none would be left. The other fields
    never name a product (the guardrails see to it)."""
    still_shown, titles = list(still_shown), list(titles)

    def gone(paragraph: str) -> bool:
        if not still_shown and paragraph.endswith(CARDS_BELOW):
            return True  # it points at cards there are no more of
        read = without_names(spoken(paragraph), still_shown)
        return any(names(read, title) for title in titles)

    kept = tuple(p for p in content.paragraphs if not gone(p))
    removed = len(content.paragraphs) - len(kept)
    if not removed:
        return content, 0
    return content.model_copy(update={"paragraphs": kept or (NEUTRAL_PARAGRAPH,)}), removed
