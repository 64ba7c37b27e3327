"""Checks on what a writer produced, before it can become an email. Pure: text in, violations out.

- markup: no HTML or script, in any field (the renderer escapes it anyway; its presence means a bad output);
- links: every URL or bare domain must be on the allow-list (by default the shop's own domain);
- offers: no discount, price, percentage, coupon, code or free shipping unless it is an allow-listed offer;
- length: the whole email stays short;
- facts: a number of orders or a time since the last order that contradicts the client's facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from engagement.scoring import days_since
from engagement.writer.base import EmailContent, WriteRequest

MAX_TOTAL_CHARACTERS = 1800

_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>|javascript:", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')]+", re.IGNORECASE)
# Any dotted name ending in a plausible top-level domain (bit.ly, shop.xyz, evil.example.net): an unknown domain
# that is really a sentence typed without a space only costs a regeneration.
_BARE_DOMAIN = re.compile(r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}\b(?:/\S*)?", re.IGNORECASE)
_OFFER = re.compile(
    r"\d+(?:[.,]\d+)?\s?%|[$€£]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|euros?)\b"
    r"|\b\d+\s*(?:percent|per cent|pct)\s+off\b|\b\d+\s+off\b|\bhalf[- ](?:price|off)\b"
    r"|\b(?:discount(?:s|ed)?|coupons?|promo(?:tion)?s?|vouchers?|rebates?|complimentary|bogo|clearance|markdowns?"
    r"|buy one,? get one|free (?:shipping|delivery|returns?|gifts?|samples?|trial)|on sale|sale ends"
    r"|(?:low|lower|reduced|special|great|best|unbeatable) prices?)\b"
    r"|\bsave\s+(?:up\s+to\s+)?[$€£]?\d"
    # "code SAVE20", "promo code: WELCOME": the code itself is upper case or has a digit ("dress code" is not one)
    r"|\bcode\s*:?\s*(?-i:[A-Z0-9]*\d[A-Z0-9]*|[A-Z]{3,})\b",
    re.IGNORECASE,
)
_COUNT = r"(\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_ORDER_COUNT = re.compile(rf"\b{_COUNT}\s+(?:previous\s+|past\s+)?orders?\b", re.IGNORECASE)
# A claim about the time since the last order: "it has been about 3 months", "your order 2 weeks ago".
# "for" takes a number only: "for three months" is a claim, "for a day at the beach" is not.
_ELAPSED = re.compile(
    rf"\b(?:been|over|about|nearly|almost|than)\s+{_COUNT}\s+(day|week|month|year)s?\b"
    rf"|\bfor\s+(?!a\b)({_COUNT[1:-1]})\s+(day|week|month|year)s?\b"
    rf"|\b{_COUNT}\s+(day|week|month|year)s?\s+(?:ago|since)\b",
    re.IGNORECASE,
)
_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}  # fmt: skip
_DAYS_PER = {"day": 1, "week": 7, "month": 30.4, "year": 365}


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass(frozen=True)
class GuardrailPolicy:
    allowed_link_domains: tuple[str, ...]
    allowed_offers: tuple[str, ...] = ()


def _texts(content: EmailContent) -> list[str]:
    return [content.subject, content.preheader, content.greeting, *content.paragraphs,
            content.call_to_action.label, content.sign_off]  # fmt: skip


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _WORDS[word.lower()]


def _domain_allowed(domain: str, allowed: Iterable[str]) -> bool:
    domain = domain.lower().rstrip(".").removeprefix("www.")
    return any(domain == a or domain.endswith("." + a) for a in (d.lower().removeprefix("www.") for d in allowed))


def _links(text: str) -> list[str]:
    found = _URL.findall(text)
    remainder = _URL.sub(" ", text)
    return found + [match.group(0) for match in _BARE_DOMAIN.finditer(remainder)]


def check(content: EmailContent, request: WriteRequest, policy: GuardrailPolicy) -> list[Violation]:
    violations: list[Violation] = []
    texts = _texts(content)
    everything = "\n".join(texts)

    for text in texts:
        if match := _MARKUP.search(text):
            violations.append(Violation("markup", repr(match.group(0)[:40])))
    for link in [*(_links(everything)), content.call_to_action.url]:
        target = link if "://" in link else f"https://{link}"
        if not _domain_allowed(urlsplit(target).hostname or "", policy.allowed_link_domains):
            violations.append(Violation("link", f"{link[:80]} is not on the allow-list"))

    unlisted = everything
    for offer in policy.allowed_offers:
        unlisted = re.sub(re.escape(offer), " ", unlisted, flags=re.IGNORECASE)
    for match in _OFFER.finditer(unlisted):
        violations.append(Violation("offer", f"{match.group(0)!r} is not an allowed offer"))

    if len(everything) > MAX_TOTAL_CHARACTERS:
        violations.append(Violation("length", f"{len(everything)} characters (at most {MAX_TOTAL_CHARACTERS})"))

    client = request.client
    for match in _ORDER_COUNT.finditer(everything):
        if _number(match.group(1)) != client.order_count:
            violations.append(Violation("fact", f"{match.group(0)!r} but the client has {client.order_count} orders"))
    if client.last_order_date is not None:
        actual = days_since(client.last_order_date, request.now)
        for match in _ELAPSED.finditer(everything):
            count, unit = [group for group in match.groups() if group][:2]
            claimed = _number(count) * _DAYS_PER[unit.lower()]
            if claimed > 1.5 * actual + 7 or claimed < 0.5 * actual - 7:
                detail = f"{match.group(0)!r} but the last order was {int(actual)} days ago"
                violations.append(Violation("fact", detail))
    return violations
