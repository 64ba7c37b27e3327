"""The offline writer: a personal win-back email from the client's facts, with no network and no LLM.

It is the default when no LLM key is configured and the fallback whenever the LLM cannot be used.
"""

from __future__ import annotations

import re

from engagement.domain.models import Band
from engagement.domain.picks import MAX_PICKS
from engagement.domain.scoring import days_since
from engagement.writer.base import CallToAction, EmailContent, WriteRequest, WrittenEmail
from engagement.writer.products import CARDS_BELOW


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" and {words[-1]}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# Words only: a name or category with markup, a link or digits in it is left out rather than repeated in an email.
_PLAIN = re.compile(r"^[^\W\d_]+(?:[ '\u2019-][^\W\d_]+)*$")


def _plain(text: str) -> str:
    text = " ".join(text.split())
    return text if _PLAIN.match(text) else ""


def _categories(request: WriteRequest) -> str:
    picks = [_clip(plain, 30) for category in request.client.preferred_categories if (plain := _plain(category))]
    return _join(picks[:3])


def _absence(request: WriteRequest) -> str | None:
    last_order = request.client.last_order_date
    if last_order is None:
        return None
    days = int(days_since(last_order, request.now))
    if days >= 60:
        return f"It has been about {days // 30} months since your last order"
    if days >= 14:
        return f"It has been {days // 7} weeks since your last order"
    return None


class TemplateWriter:
    name = "template"

    def __init__(self, shop_url: str, brand_name: str) -> None:
        self._shop_url = shop_url
        self._brand_name = brand_name

    def write(self, request: WriteRequest) -> WrittenEmail:
        client = request.client
        categories = _categories(request)
        first_name = _clip(_plain(client.first_name), 40)
        critical = request.score.band is Band.CRITICAL

        if critical:
            subject = f"{first_name}, we miss you" if first_name else "We miss you"
        elif categories:
            subject = f"New {categories} picked for you"
        else:
            subject = "Something new picked for you"

        paragraphs: list[str] = []
        absence = _absence(request)
        if absence:
            paragraphs.append(f"{absence}, and we wanted to check in.")
        else:
            paragraphs.append("We wanted to check in and see how you are getting on.")
        if client.order_count > 1:
            paragraphs.append(
                f"Thank you for the {client.order_count} orders you have placed with {self._brand_name}. "
                "Your stylist has kept your preferences in mind."
            )
        picks = request.candidates[:MAX_PICKS]  # the best, by the rules that chose them
        if picks:
            kinds = _join(list(dict.fromkeys(_clip(p, 30) for pick in picks if (p := _plain(pick.category)))))
            among = f" from {kinds}" if kinds else ""
            paragraphs.append(f"We have picked a few things{among} we think you will love; {CARDS_BELOW}")
        elif categories:
            paragraphs.append(f"We have put together fresh {categories} we think you will love.")
        else:
            paragraphs.append("We have put together a fresh selection we think you will love.")
        paragraphs.append("If anything about your last order was not right, just reply and tell us.")

        content = EmailContent(
            subject=subject,
            preheader=f"Fresh picks from {self._brand_name}, chosen with you in mind.",
            greeting=f"Hi {first_name}," if first_name else "Hi there,",
            paragraphs=tuple(paragraphs),
            call_to_action=CallToAction(label="See your picks", url=self._shop_url),
            sign_off=f"Warm regards, the {self._brand_name} team",
        )
        return WrittenEmail(content=content, writer=self.name, product_ids=tuple(p.product_id for p in picks))
