from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.domain.models import Client
from engagement.domain.scoring import score_client
from engagement.writer import CallToAction, EmailContent, TemplateWriter, WriteRequest
from engagement.writer.guardrails import GuardrailPolicy, check

NOW = datetime(2026, 11, 28, tzinfo=UTC)
POLICY = GuardrailPolicy(allowed_link_domains=("shop.example.com",))


def request(**values: object) -> WriteRequest:
    client = Client.model_validate(
        {"userId": "u", "email": "u@example.com", "name": "Ada", "orderCount": 5,
         "lastOrderDate": "2026-08-30T00:00:00.000Z", **values}  # 90 days before NOW
    )  # fmt: skip
    return WriteRequest(client=client, score=score_client(client, NOW), now=NOW)


def email(*paragraphs: str, url: str = "https://shop.example.com/") -> EmailContent:
    return EmailContent(
        subject="New picks for you", preheader="Chosen for you", greeting="Hi Ada,",
        paragraphs=paragraphs or ("We picked a few things for you.",),
        call_to_action=CallToAction(label="See your picks", url=url), sign_off="The team",
    )  # fmt: skip


def rules(content: EmailContent, **values: object) -> list[str]:
    return [v.rule for v in check(content, request(**values), POLICY)]


@pytest.mark.parametrize(
    "paragraph",
    [
        "Thank you for your 5 orders with us.",
        "It has been about three months since your last order.",
        "Your last order was 13 weeks ago.",
        "Have a great day, and a great week.",
        "Browse more at https://shop.example.com/new or www.shop.example.com.",
        "Our new knitwear is 100 percent cotton.",
        "Whatever the dress code, we have you covered.",
        "Perfect for a day at the beach or a week in the city.",
        "Mr. Smith and Dr. Jones, e.g. our stylists, i.e. real people.",
        "Polka dot dresses are back, in three new colours.",
        "Your last order, on 2026-08-30, was a pair of boots.",
        "We opened our 2nd store in 2019.",
        "Pin it to your board, or keep it for later.",
    ],
)
def test_honest_plain_text_passes(paragraph: str) -> None:
    assert rules(email(paragraph)) == []


@pytest.mark.parametrize(
    ("paragraph", "rule"),
    [
        ("<b>Hello</b>", "markup"),
        ("Click <a href='x'>here</a>", "markup"),
        ("Visit javascript:alert(1)", "markup"),
        ("More at https://evil.example.net/win", "link"),
        ("More at evil.com/win", "link"),
        ("Take 20% off today", "offer"),
        ("Only $19 this week", "offer"),
        ("Enjoy free shipping", "offer"),
        ("Use code SAVE20 at checkout", "offer"),
        ("Promo code: WELCOME at checkout", "offer"),
        ("Take 20 percent off your next order", "offer"),
        ("Everything is half price this week", "offer"),
        ("Enjoy free returns on everything", "offer"),
        ("A complimentary styling session awaits", "offer"),
        ("BOGO on all shirts", "offer"),
        ("Buy one, get one on knitwear", "offer"),
        ("Save 30 on a new coat", "offer"),
        ("New arrivals at great prices", "offer"),
        ("More at bit.ly/abc", "link"),
        ("See picks.shop.xyz now", "link"),
        ("Write to stylists@evil.example.net", "link"),
        ("We have not seen you for two weeks", "fact"),
        ("Thank you for your 7 orders", "fact"),
        ("Thank you for your two orders", "fact"),
        ("It has been over a year since we saw you", "fact"),
        ("Your order 2 days ago", "fact"),
        ("Call us on +44 20 7946 0958 any time", "contact"),
        ("Questions? 555-123-4567", "contact"),
        ("Write to stylists@shop.example.com", "contact"),
        ("Visit northwind dot com for more", "contact"),
        ("Visit northwind [dot] com for more", "contact"),
        ("Visit northwind . com for more", "contact"),
        ("Reply with your card number to claim it", "credentials"),
        ("Confirm your password here", "credentials"),
        ("We need your bank details", "credentials"),
        ("Send us the CVV on the back", "credentials"),
    ],
)
def test_each_rule_catches_its_violation(paragraph: str, rule: str) -> None:
    assert rule in rules(email(paragraph))


def test_the_call_to_action_must_lead_to_an_allowed_domain() -> None:
    assert rules(email(url="https://evil.example.net/")) == ["link"]
    assert rules(email(url="https://www.shop.example.com/picks")) == []


def test_an_allowed_offer_may_be_mentioned_word_for_word() -> None:
    policy = GuardrailPolicy(allowed_link_domains=("shop.example.com",), allowed_offers=("free shipping on orders",))
    assert check(email("Enjoy free shipping on orders this month."), request(), policy) == []
    assert [v.rule for v in check(email("Enjoy 10% off."), request(), policy)] == ["offer"]


def test_a_long_email_breaks_the_length_rule() -> None:
    assert "length" in rules(email(*(["We picked a few things for you. " * 11] * 5)))


hostile = st.sampled_from(["<img src=x onerror=alert(1)>", "www.evil.com", "50% off", "https://x.io", "Ada", "Zoë"])


@given(
    name=st.text(max_size=60) | hostile,
    orders=st.integers(min_value=0, max_value=400),
    categories=st.lists(st.text(max_size=20) | hostile, max_size=4),
    days=st.integers(min_value=0, max_value=2000),
)
def test_the_template_writer_never_breaks_a_guardrail(name: str, orders: int, categories: list[str], days: int) -> None:
    """The template is the fallback for a broken guardrail: it must itself keep every rule."""
    from datetime import timedelta

    req = request(
        name=name, orderCount=orders, preferredCategories=categories, lastOrderDate=NOW - timedelta(days=days)
    )
    written = TemplateWriter("https://shop.example.com/", "Northwind Apparel").write(req)
    assert check(written.content, req, POLICY) == []
