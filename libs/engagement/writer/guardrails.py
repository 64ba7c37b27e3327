"""Checks on what a writer produced, before it can become an email. Pure: text in, violations out.

- markup: no HTML or script, in any field (the renderer escapes it anyway; its presence means a bad output);
- links: every URL or bare domain must be on the allow-list (by default the shop's own domain);
- contact: no e-mail address, phone number or web address written out ("example dot com"): the email's only way
  back is its button;
- credentials: nothing that asks for a card number, a password, a PIN or bank details;
- offers: no discount, price, percentage, coupon, code or free shipping unless it is an allow-listed offer;
- length: the whole email stays short;
- facts: a number of orders or a time since the last order that contradicts the client's facts;
- products: the picks are among the request's candidates (at most 3, each once); the text names no product but the
  picks, and those in the paragraphs only (so a pick dropped at send time takes its paragraphs with it); it links
  no product page but a pick's; it writes no price (the cards show the catalog's).

Every check is linear in the length of the text (literals, bounded repetition, or parsing without patterns), and
the fields' lengths are bounded before any check runs (EmailContent), so no input can stall a function here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from engagement.domain.orders import CURRENCIES
from engagement.domain.picks import PicksRefused, chosen
from engagement.domain.scoring import days_since
from engagement.writer.base import EmailContent, WriteRequest
from engagement.writer.products import mentions, names, page_of, product_sections, same_page, spoken, without_names

MAX_TOTAL_CHARACTERS = 1800

# A tag starts with a letter, / or ! and ends at the next >; [^<>] stops at the next <, so no start rescans the rest.
_MARKUP = re.compile(r"<\s{0,3}/?\s{0,3}[a-zA-Z!][^<>]*>|javascript:", re.IGNORECASE)
# What ends a URL, as mail clients see it; text is cut into tokens at these, then each token is read once.
_URL_END = re.compile(r"[\s<>\"'()]+")
_URL_STARTS = ("https://", "http://", "www.")
_NOT_A_DOMAIN_CHARACTER = re.compile(r"[^a-z0-9.-]+", re.IGNORECASE)
_OFFER = re.compile(
    # a number and a per cent sign or a currency: bounded widths, so each position is looked at a bounded number of
    # times; a number is read from its first digit (12.5%), and any digit before a per cent sign still counts
    r"(?<![\d.,])\d{1,12}(?:[.,]\d{1,12})?\s?%|\d\s?%|[$€£]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|euros?)\b"
    r"|\d\s{0,3}(?:percent|per cent|pct)\s{1,3}off\b|\d\s{1,3}off\b|\bhalf[- ](?:price|off)\b"
    r"|\b(?:discount(?:s|ed)?|coupons?|promo(?:tion)?s?|vouchers?|rebates?|complimentary|bogo|clearance|markdowns?"
    r"|buy one,? get one|free (?:shipping|delivery|returns?|gifts?|samples?|trial)|on sale|sale ends"
    r"|(?:low|lower|reduced|special|great|best|unbeatable) prices?)\b"
    r"|\bsave\s{1,3}(?:up\s{1,3}to\s{1,3})?[$€£]?\d"
    # "code SAVE20", "promo code: WELCOME": the code itself is upper case or has a digit ("dress code" is not one);
    # possessive, so a long run that is not followed by a word boundary is given up at once
    r"|\bcode\s{0,3}:?\s{0,3}(?-i:(?=[A-Z0-9]{0,40}\d)[A-Z0-9]++|[A-Z]{3,}+)\b",
    re.IGNORECASE,
)
_CREDENTIALS = re.compile(
    r"\b(?:card (?:number|details)|credit card|debit card|cvv|cvc|security code|pin (?:code|number)|your pin|passwords?"
    r"|passcodes?|log-?in details|bank (?:details|account)|account number|sort code|routing number|iban"
    r"|social security|one-time code)\b",
    re.IGNORECASE,
)
# A web or mail address written so a filter would not see it: "example dot com", "example [dot] com", "example .
# com". Only before a common top-level domain: "polka dot dresses" is an apparel shop's everyday phrase.
_TLDS = ("com|net|org|io|co|uk|de|fr|es|it|nl|eu|us|ca|au|info|biz|shop|store|xyz|online|site|app|ly|me|club|top"
         "|live|ru|cn|in")  # fmt: skip
_SPELLED_DOT = re.compile(
    rf"(?:[\[({{]\s{{0,3}}dot\s{{0,3}}[\])}}]|\sdot\s|\s\.\s)\s{{0,3}}(?:{_TLDS})\b", re.IGNORECASE
)
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
# Digits and the marks phone numbers are written with: a run is read once; 7 digits or more is a phone number.
_PHONE_RUN = re.compile(r"[0-9+(][0-9+().\- ]*")
_DIGIT_GROUP = re.compile(r"\d+")
_COUNT = r"(\d{1,6}|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_ORDER_COUNT = re.compile(rf"\b{_COUNT}\s{{1,3}}(?:previous\s{{1,3}}|past\s{{1,3}})?orders?\b", re.IGNORECASE)
# A claim about the time since the last order: "it has been about 3 months", "your order 2 weeks ago".
# "for" takes a number only: "for three months" is a claim, "for a day at the beach" is not.
_ELAPSED = re.compile(
    rf"\b(?:been|over|about|nearly|almost|than)\s{{1,3}}{_COUNT}\s{{1,3}}(day|week|month|year)s?\b"
    rf"|\bfor\s{{1,3}}(?!a\b)({_COUNT[1:-1]})\s{{1,3}}(day|week|month|year)s?\b"
    rf"|\b{_COUNT}\s{{1,3}}(day|week|month|year)s?\s{{1,3}}(?:ago|since)\b",
    re.IGNORECASE,
)
# A price without its currency ("49.00", "49,90"), which the offer rule does not see: not part of a longer
# number such as a dotted date (21.12.2024).
_BARE_PRICE = re.compile(r"(?<!\d)(?<!\d[.,])\d{1,7}[.,]\d{2}(?!\d|[.,]\d)")
# Money written out: any currency sign (¥, ₹, kr.…: Unicode's currency symbols), a currency's code beside a number
# ("1500 JPY", "CHF 89"), or a currency's name ("forty-nine dollars", "120 kronor"). Bounded widths: linear.
_AMOUNT = re.compile(r"\s?\d{1,9}(?:[.,]\d{1,3})?")
_CODED = re.compile(r"(?<![A-Za-z])([A-Z]{3})\s?\d{1,9}|\d{1,9}\s?([A-Z]{3})(?![A-Za-z])")  # in capitals: "all 3"
_CURRENCY_NAMES = re.compile(
    r"\b(?:dollars?|euros?|pounds? sterling|quid|yen|yuan|rupees?|pesos?|francs?|kronor|krona|kroner|krone|"
    r"z[lł]oty|reais|cents?|pence)\b",
    re.IGNORECASE,
)


def _money(text: str) -> Iterator[tuple[int, str]]:
    """Money written out, with where: any currency sign (Unicode's currency symbols: ¥, ₹, …) and the amount after
    it, an ISO 4217 code beside a number ("1500 JPY", "CHF 89"), or a currency's name ("forty-nine dollars"). Linear."""
    for at, ch in enumerate(text):
        if unicodedata.category(ch) == "Sc":
            amount = _AMOUNT.match(text, at + 1)
            yield at, ch + (amount.group(0) if amount else "")
    for match in _CODED.finditer(text):
        if (match.group(1) or match.group(2)) in CURRENCIES:
            yield match.start(), match.group(0)
    for match in _CURRENCY_NAMES.finditer(text):
        yield match.start(), match.group(0)


# A number that may be a candidate's price written bare ("49.9", "only 49"); a count of days, weeks, months, years,
# orders or items is not.
_DECIMAL = re.compile(
    r"(?<![\d.,])\d{1,7}(?:[.,]\d{1,3})?(?!\d|[.,]\d)(?!\s?(?:days?|weeks?|months?|years?|orders?|items?|times?)\b)",
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


def _shown(text: str, limit: int = 40) -> str:
    """A finding as a violation names it: short, whatever was found."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _domain_allowed(domain: str, allowed: Iterable[str]) -> bool:
    domain = domain.lower().rstrip(".").removeprefix("www.")
    return any(domain == a or domain.endswith("." + a) for a in (d.lower().removeprefix("www.") for d in allowed))


def _is_label(label: str) -> bool:
    return 0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"


def _bare_domains(text: str) -> Iterator[str]:
    """Dotted names ending in a plausible top-level domain (bit.ly, shop.xyz, evil.example.net): an unknown domain
    that is really a sentence typed without a space only costs a regeneration. Each piece of letters, digits, dots
    and hyphens is split at its dots once; a run of valid labels ending in 2 to 24 letters is a domain."""
    for piece in _NOT_A_DOMAIN_CHARACTER.split(text):
        run: list[str] = []
        for label in [*piece.split("."), ""]:  # the empty label at the end closes the last run
            if _is_label(label):
                run.append(label)
                continue
            ends = [i for i, name in enumerate(run) if name.isalpha() and name.isascii() and 2 <= len(name) <= 24]
            if ends and ends[-1] >= 1:
                yield ".".join(run[: ends[-1] + 1])
            run = []


def _links(text: str) -> Iterator[tuple[str, str]]:
    """(what was written, its host) for every URL and bare domain."""
    for token in _URL_END.split(text):
        lower = token.lower()
        starts = [i for i in (lower.find(start) for start in _URL_STARTS) if i >= 0]
        if starts:
            url = token[min(starts) :]
            yield url, urlsplit(url if "://" in url else f"https://{url}").hostname or ""
            token = token[: min(starts)]
        for domain in _bare_domains(token):
            yield domain, domain


def _email_addresses(text: str) -> Iterator[str]:
    """Every @ between a name and a domain: what reads as an address, whatever its domain."""
    at = text.find("@")
    while at != -1:
        before, after = text[at - 1 : at], text[at + 1 : at + 2]
        if before and after and (before.isalnum() or before in "._%+-") and after.isalnum():
            yield text[max(0, at - 20) : at + 21].strip()
        at = text.find("@", at + 1)


def _spelled_out_addresses(text: str) -> Iterator[str]:
    """A spelt-out dot before a top-level domain, with a name before it: found by the dot, then the name is read
    backwards (at most a label's length), so no position is read more than a bounded number of times."""
    for match in _SPELLED_DOT.finditer(text):
        before = text[max(0, match.start() - 66) : match.start()].rstrip()
        name = len(before)
        while name > 0 and before[name - 1] in _NAME_CHARACTERS:
            name -= 1
        if name < len(before):
            yield before[name:] + match.group(0)


def _phone_numbers(text: str) -> Iterator[str]:
    """Runs of 7 digits or more, written as phone numbers are, except dates (2024-12-21, 21.12.2024)."""
    for match in _PHONE_RUN.finditer(text):
        run = match.group(0).strip(" .-")
        groups = [len(group) for group in _DIGIT_GROUP.findall(run)]
        date_like = sorted(groups) in ([1, 1, 4], [1, 2, 4], [2, 2, 4])
        if sum(groups) >= 7 and not date_like:
            yield run


def check(
    content: EmailContent, request: WriteRequest, policy: GuardrailPolicy, product_ids: tuple[str, ...] = ()
) -> list[Violation]:
    """Every rule the content breaks; product_ids: the products the email would show (among request.candidates)."""
    violations: list[Violation] = []
    texts = _texts(content)
    everything = "\n".join(texts)
    if len(everything) > MAX_TOTAL_CHARACTERS:
        violations.append(Violation("length", f"{len(everything)} characters (at most {MAX_TOTAL_CHARACTERS})"))

    for text in texts:
        if match := _MARKUP.search(text):
            violations.append(Violation("markup", _shown(match.group(0))))
        if hidden := next((ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf")), None):
            violations.append(Violation("markup", f"U+{ord(hidden):04X}: no control or invisible characters"))
    links = [*_links(everything), (content.call_to_action.url, urlsplit(content.call_to_action.url).hostname or "")]
    for written, host in links:
        if not _domain_allowed(host, policy.allowed_link_domains):
            violations.append(Violation("link", f"{_shown(written, 80)} is not on the allow-list"))
    for address in _email_addresses(everything):
        violations.append(Violation("contact", f"{_shown(address)}: no email address in an email's text"))
    for phone in _phone_numbers(everything):
        violations.append(Violation("contact", f"{_shown(phone)}: no phone number"))
    for spelled in _spelled_out_addresses(everything):
        violations.append(Violation("contact", f"{_shown(spelled)}: no address written out"))
    for match in _CREDENTIALS.finditer(everything):
        violations.append(Violation("credentials", f"{_shown(match.group(0))}: we never ask for these"))

    unlisted = everything
    for offer in policy.allowed_offers:
        unlisted = re.sub(re.escape(offer), " ", unlisted, flags=re.IGNORECASE)
    for match in _OFFER.finditer(unlisted):
        violations.append(Violation("offer", f"{_shown(match.group(0))} is not an allowed offer"))

    client = request.client
    for match in _ORDER_COUNT.finditer(everything):
        if _number(match.group(1)) != client.order_count:
            detail = f"{_shown(match.group(0))} but the client has {client.order_count} orders"
            violations.append(Violation("fact", detail))
    if client.last_order_date is not None:
        actual = days_since(client.last_order_date, request.now)
        for match in _ELAPSED.finditer(everything):
            count, unit = [group for group in match.groups() if group][:2]
            claimed = _number(count) * _DAYS_PER[unit.lower()]
            if claimed > 1.5 * actual + 7 or claimed < 0.5 * actual - 7:
                detail = f"{_shown(match.group(0))} but the last order was {int(actual)} days ago"
                violations.append(Violation("fact", detail))
    violations += _product_violations(content, request, product_ids, links)
    return violations


def _product_violations(
    content: EmailContent, request: WriteRequest, product_ids: tuple[str, ...], links: list[tuple[str, str]]
) -> list[Violation]:
    try:
        picks = chosen(product_ids, request.candidates)
    except PicksRefused as refused:
        return [Violation("pick", str(refused))]
    violations: list[Violation] = []
    picked = {pick.product_id for pick in picks}
    unpicked = [(c.title, c.url) for c in request.candidates if c.product_id not in picked]
    unpicked += [(other.title, other.url) for other in request.others]
    everything = "\n".join(_texts(content))
    # A pick's name is its own: "Linen Shirt" inside a picked "Linen Shirt Dress" names no other product.
    others_read = without_names(spoken(everything), [pick.title for pick in picks])
    named = {title for title, _ in unpicked if names(others_read, title)}
    violations += [Violation("product", f"{_shown(title)} is not one of the picked products") for title in named]
    outside_paragraphs = [content.subject, content.preheader, content.greeting, content.call_to_action.label,
                          content.sign_off]  # fmt: skip
    for pick in picks:
        if any(mentions(text, pick.title) for text in outside_paragraphs):
            violations.append(Violation("product", f"{_shown(pick.title)}: products are named in paragraphs only"))
    # No link to a product page but a pick's: any page under the catalog's product folders that is not a pick's.
    sections = product_sections([*(c.url for c in request.candidates), *(o.url for o in request.others)])
    for written, _host in links:
        host, path = page_of(written)
        on_product_page = any(host == at and path.startswith(folder) for at, folder in sections)
        if (on_product_page or any(same_page(written, url) for _, url in unpicked)) and not any(
            same_page(written, pick.url) for pick in picks
        ):
            violations.append(Violation("link", f"{_shown(written, 80)} is a product that is not picked"))
    known = {_price_number(c.price) for c in request.candidates}
    prices = [*((m.start(), m.group(0)) for m in _BARE_PRICE.finditer(everything)), *_money(everything),
              *((m.start(), m.group(0)) for m in _DECIMAL.finditer(everything)
                if _price_number(m.group(0).replace(",", ".")) in known)]  # fmt: skip
    for written in dict.fromkeys(written for _, written in sorted(prices)):
        violations.append(Violation("price", f"{_shown(written)}: prices are shown on the cards only"))
    return violations


def _price_number(value: object) -> str:
    """A price as a plain number for comparing: 49.90, 49.9 and 49.900 alike."""
    try:
        return f"{Decimal(str(value)).normalize():f}"
    except InvalidOperation:
        return ""
