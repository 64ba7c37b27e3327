from __future__ import annotations

from datetime import UTC, datetime

from engagement.domain.consent import UNSUBSCRIBE_SLOT
from engagement.domain.models import Client
from engagement.domain.scoring import score_client
from engagement.writer import Brand, CallToAction, EmailContent, TemplateWriter, WriteRequest, render_email

NOW = datetime(2026, 11, 28, tzinfo=UTC)
BRAND = Brand(
    name="Northwind Apparel", postal_address="100 Example Street, Springfield", shop_url="https://shop.example.com/"
)


def write(**values: object) -> tuple[str, str, str]:
    client = Client.model_validate({"userId": "u", "email": "u@example.com", **values})
    written = TemplateWriter(shop_url=BRAND.shop_url, brand_name=BRAND.name).write(
        WriteRequest(client=client, score=score_client(client, NOW), now=NOW)
    )
    assert written.writer == "template"
    rendered = render_email(written.content, BRAND)
    return rendered.subject, rendered.html, rendered.text


def test_the_template_is_personal_to_the_client() -> None:
    subject, html, text = write(
        name="Test User 8", lastOrderDate="2024-12-21T16:18:00.000Z", orderCount=5, averageOrderValue=100,
        preferredCategories=["pants", "shirts"], engagementScore=30,
    )  # fmt: skip
    assert subject == "New pants and shirts picked for you"
    assert "Hi Test," in text
    assert "5 orders" in text
    assert "about 23 months since your last order" in text
    assert "pants and shirts" in html


def test_a_critical_client_is_missed_by_name() -> None:
    subject, _, _ = write(name="Amara Okafor", engagementScore=10)
    assert subject == "Amara, we miss you"


def test_a_name_or_category_with_markup_or_links_is_left_out_not_repeated() -> None:
    categories = ['"><script>alert(1)</script>', "www.evil.com", "knitwear"]
    subject, html, text = write(name="<img src=x onerror=alert(1)>", preferredCategories=categories, engagementScore=10)
    assert subject == "We miss you"
    assert text.startswith("Hi there,")
    assert "knitwear" in text
    for part in (html, text):
        assert "img" not in part
        assert "script" not in part
        assert "evil" not in part


def test_whatever_a_writer_supplies_is_escaped_by_the_renderer() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    content = EmailContent(
        subject=hostile, preheader=hostile, greeting=hostile, paragraphs=(hostile, '"><script>alert(1)</script>'),
        call_to_action=CallToAction(label=hostile, url="javascript:alert(1)"), sign_off=hostile,
    )  # fmt: skip
    html = render_email(content, BRAND).html
    assert "<img" not in html
    assert "<script" not in html
    assert "javascript:" not in html  # not a link we would render
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 5


def test_every_email_has_the_postal_address_and_an_unsubscribe_slot() -> None:
    _, html, text = write(name="Ada", engagementScore=20)
    for part in (html, text):
        assert "100 Example Street, Springfield" in part
        assert UNSUBSCRIBE_SLOT in part


def test_overlong_names_and_categories_still_make_a_valid_email() -> None:
    subject, _, _ = write(name="A" * 256, preferredCategories=["b" * 100, "c" * 100], engagementScore=10)
    assert len(subject) <= 120
