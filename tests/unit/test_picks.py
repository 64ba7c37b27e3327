"""The products an email shows: chosen among its candidates, checked by the guardrails, rendered as cards, and
refreshed from the catalog at send time (engagement.domain.picks, engagement.writer)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from engagement.domain.catalog import Product
from engagement.domain.models import Client, ProductPick
from engagement.domain.picks import PicksRefused, chosen, refreshed
from engagement.domain.scoring import score_client
from engagement.http.routers.public import dashboard_policy
from engagement.writer import Brand, CallToAction, EmailContent, TemplateWriter, WriteRequest, render_email
from engagement.writer.base import OtherProduct
from engagement.writer.guardrails import GuardrailPolicy, check
from engagement.writer.products import CARDS_BELOW, NEUTRAL_PARAGRAPH, price_text, without_mentions

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
SHOP = "https://shop.example.com/"
BRAND = Brand(name="Northwind Apparel", postal_address="100 Example Street, Springfield", shop_url=SHOP)
POLICY = GuardrailPolicy(allowed_link_domains=("shop.example.com",))
CLIENT = Client.model_validate(
    {
        "userId": "u-1",
        "email": "u1@example.com",
        "name": "Ada Lovelace",
        "orderCount": 3,
        "preferredCategories": ["pants", "shirts"],
        "engagementScore": 30,
    }
)


def candidate(product_id: str, rank: int, *, title: str | None = None, price: str = "49.00",
              category: str = "pants") -> ProductPick:  # fmt: skip
    return ProductPick(product_id=product_id, title=title or product_id.replace("-", " ").title(),
                       url=f"https://shop.example.com/products/{product_id}",
                       image_url=f"https://cdn.shopify.com/{product_id}.jpg", category=category, price=Decimal(price),
                       currency="USD", rank=rank, reason=f"reason {rank}")  # fmt: skip


CANDIDATES = (
    candidate("wide-leg-trousers", 1),
    candidate("oxford-shirt", 2, category="shirts", price="39.50"),
    candidate("chinos", 3),
    candidate("poplin-shirt", 4, category="shirts"),
)
OTHERS = (OtherProduct(title="Cashmere Scarf", url="https://shop.example.com/products/cashmere-scarf"),)


def in_catalog(pick: ProductPick, *, in_stock: bool = True, price: str | None = None) -> Product:
    return Product(product_id=pick.product_id, title=pick.title, url=pick.url, image_url=pick.image_url,
                   category=pick.category, price=Decimal(price) if price else pick.price, currency=pick.currency,
                   in_stock=in_stock, updated_at=NOW)  # fmt: skip


def content(*paragraphs: str, subject: str = "A few picks for you") -> EmailContent:
    return EmailContent(
        subject=subject,
        preheader="Chosen for you",
        greeting="Hi Ada,",
        paragraphs=paragraphs or ("We picked these for you.",),
        call_to_action=CallToAction(label="See more", url=SHOP),
        sign_off="The Northwind team",
    )


def violations(email: EmailContent, *ids: str) -> list[str]:
    request = WriteRequest(client=CLIENT, score=score_client(CLIENT, NOW), now=NOW, candidates=CANDIDATES,
                           others=OTHERS)  # fmt: skip
    return [str(v) for v in check(email, request, POLICY, ids)]


def test_picks_come_from_the_candidates_at_most_three_each_once() -> None:
    assert [p.product_id for p in chosen(["chinos", "oxford-shirt"], CANDIDATES)] == ["chinos", "oxford-shirt"]
    with pytest.raises(PicksRefused, match="not among this email's candidates: 'invented-jacket'"):
        chosen(["chinos", "invented-jacket"], CANDIDATES)
    with pytest.raises(PicksRefused, match="at most 3"):
        chosen([c.product_id for c in CANDIDATES], CANDIDATES)
    with pytest.raises(PicksRefused, match="twice"):
        chosen(["chinos", "chinos"], CANDIDATES)


def test_the_guardrails_let_the_text_name_the_picks_in_its_paragraphs_only() -> None:
    assert violations(content("The Chinos go with everything you own."), "chinos") == []
    assert violations(content("You might like our Chinos."), "wide-leg-trousers") == [
        "product: 'Chinos' is not one of the picked products"
    ]
    assert violations(content("Or a cashmere scarf for the cold."), "chinos") == [
        "product: 'Cashmere Scarf' is not one of the picked products"
    ]
    assert violations(content(subject="Your Chinos are waiting"), "chinos") == [
        "product: 'Chinos': products are named in paragraphs only"
    ]
    assert violations(content(), "chinos", "made-up-id") == ["pick: not among this email's candidates: 'made-up-id'"]


def test_the_guardrails_refuse_prices_in_the_text_and_links_to_products_not_picked() -> None:
    assert violations(content("The Chinos, now only 49.00."), "chinos") == [
        "price: '49.00': prices are shown on the cards only"
    ]
    assert violations(content("The Chinos for $45."), "chinos") == [
        "offer: '$4' is not an allowed offer",
        "price: '$45': prices are shown on the cards only",
    ]
    assert violations(content("See https://shop.example.com/products/chinos"), "chinos") == []
    assert "link: 'https://shop.example.com/products/cashmere-scarf?x=1' is a product that is not picked" in (
        violations(content("See https://shop.example.com/products/cashmere-scarf?x=1"), "chinos")
    )
    assert violations(content("We opened our doors on 21.12.2024."), "chinos") == []  # a date, not a price


@pytest.mark.parametrize(
    "written",
    ["only 39.5 today", "just 1500 JPY", "yours for ¥1500", "CHF 89 this week", "for 120 kronor",
     "forty-nine dollars", "only 49 now"],
)  # fmt: skip
def test_a_price_in_any_currency_or_a_candidates_price_written_bare_is_refused(written: str) -> None:
    assert [v.split(":")[0] for v in violations(content(f"The Chinos, {written}."), "chinos")] == ["price"]


def test_counts_of_days_orders_and_picks_are_not_prices() -> None:
    text = "The Chinos: all 3 of our top 5 picks, after your 3 orders and 49 days."
    assert violations(content(text), "chinos") == []


@pytest.mark.parametrize(
    "written",
    ["Wide  Leg Trousers", "Wide\u00a0Leg Trousers", "Wide-Leg-Trousers", "WIDE leg trousers",
     "Wide\u200bLeg Trousers"],
)  # fmt: skip
def test_a_product_not_picked_is_recognised_however_its_name_is_spaced_cased_or_hidden(written: str) -> None:
    assert violations(content(f"The Chinos go with the {written}."), "chinos")


def test_a_name_inside_a_picked_products_name_is_not_another_product() -> None:
    shirt = candidate("linen-shirt", 1, title="Linen Shirt")
    dress = candidate("linen-shirt-dress", 2, title="Linen Shirt Dress")
    request = WriteRequest(client=CLIENT, score=score_client(CLIENT, NOW), now=NOW, candidates=(shirt, dress))
    assert check(content("The Linen Shirt Dress is back."), request, POLICY, ("linen-shirt-dress",)) == []
    assert check(content("The Linen Shirt is back."), request, POLICY, ("linen-shirt-dress",))


@pytest.mark.parametrize(
    "link",
    ["https://shop.example.com/products/Wide-Leg-Trousers", "https://shop.example.com/products/wide-leg-trousers.",
     "https://shop.example.com/products/gold-watch"],
)  # fmt: skip
def test_no_link_to_a_product_page_but_a_picks_in_any_case_or_invented(link: str) -> None:
    assert f"link: {link!r} is a product that is not picked" in violations(content(f"The Chinos: see {link}"), "chinos")


def test_cards_show_prices_to_the_currencys_minor_unit() -> None:
    assert [price_text(Decimal(p), c) for p, c in [("49.9", "USD"), ("1234.5", "EUR"), ("1500", "JPY"),
                                                    ("2.5", "KWD"), ("7", "SEK")]] == [
        "$49.90", "€1,234.50", "1,500 JPY", "2.500 KWD", "7.00 SEK"]  # fmt: skip


def test_cards_show_picture_title_and_price_linking_with_utm_naming_the_email_all_escaped() -> None:
    odd = candidate("odd", 1, title='Tee <script>alert("x")</script> & co', price="12.50")
    rendered = render_email(content(), BRAND, (odd, CANDIDATES[1]), "email-123")

    assert "<script>" not in rendered.html
    assert "Tee &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in rendered.html
    assert 'src="https://cdn.shopify.com/odd.jpg"' in rendered.html
    assert "$12.50" in rendered.html
    assert "$39.50" in rendered.html
    utm = "utm_source=client-engagement&amp;utm_medium=email&amp;utm_campaign=winback&amp;utm_content=email-123"
    assert f'href="https://shop.example.com/products/odd?{utm}"' in rendered.html
    card_lines = [line for line in rendered.text.splitlines() if line.startswith("- ")]
    assert card_lines[1] == (
        "- Oxford Shirt, $39.50: https://shop.example.com/products/oxford-shirt?utm_source="
        "client-engagement&utm_medium=email&utm_campaign=winback&utm_content=email-123"
    )
    query = parse_qs(urlsplit(card_lines[1].split(": ", 1)[1]).query)
    assert query["utm_content"] == ["email-123"]


def test_an_email_without_picks_has_no_cards() -> None:
    rendered = render_email(content(), BRAND, (), "email-123")
    assert "<table" not in rendered.html
    assert "utm_" not in rendered.text


def test_the_template_writer_shows_the_top_three_candidates_and_names_none() -> None:
    written = TemplateWriter(SHOP, "Northwind Apparel").write(
        WriteRequest(client=CLIENT, score=score_client(CLIENT, NOW), now=NOW, candidates=CANDIDATES, others=OTHERS)
    )
    assert written.product_ids == ("wide-leg-trousers", "oxford-shirt", "chinos")
    assert "We have picked a few things from pants and shirts we think you will love" in " ".join(
        written.content.paragraphs
    )
    request = WriteRequest(
        client=CLIENT, score=score_client(CLIENT, NOW), now=NOW, candidates=CANDIDATES, others=OTHERS
    )
    assert check(written.content, request, POLICY, written.product_ids) == []


def test_at_send_time_a_pick_out_of_stock_is_replaced_by_the_next_candidate_and_a_new_price_taken() -> None:
    picks = CANDIDATES[:3]
    catalog = {
        "wide-leg-trousers": in_catalog(CANDIDATES[0], in_stock=False),
        "oxford-shirt": in_catalog(CANDIDATES[1], price="35.00"),
        "chinos": in_catalog(CANDIDATES[2]),
        "poplin-shirt": in_catalog(CANDIDATES[3]),
    }
    now, changes = refreshed(picks, CANDIDATES, catalog)

    assert [p.product_id for p in now] == ["poplin-shirt", "oxford-shirt", "chinos"]
    assert now[1].price == Decimal("35.00")
    assert changes == [
        "Wide Leg Trousers (wide-leg-trousers) out of stock: replaced by Poplin Shirt (poplin-shirt)",
        "price of Oxford Shirt (oxford-shirt) 39.50 USD → 35.00 USD",
    ]


def test_at_send_time_a_pick_with_no_candidate_left_is_dropped_and_nothing_changes_when_nothing_did() -> None:
    picks = CANDIDATES[:1]
    gone, changes = refreshed(picks, CANDIDATES[:1], {})
    assert gone == ()
    assert changes == ["Wide Leg Trousers (wide-leg-trousers) no longer in the catalog: dropped"]
    same, nothing = refreshed(picks, CANDIDATES, {"wide-leg-trousers": in_catalog(CANDIDATES[0])})
    assert same == picks
    assert nothing == []


def test_a_dropped_pick_takes_the_paragraphs_that_name_it_and_a_neutral_one_stands_in_for_none() -> None:
    email = content("The Wide Leg Trousers would suit you.", "We also chose a shirt.")
    kept, removed = without_mentions(email, ["Wide Leg Trousers"])
    assert (kept.paragraphs, removed) == (("We also chose a shirt.",), 1)
    only, _ = without_mentions(content("The Wide Leg Trousers would suit you."), ["Wide Leg Trousers"])
    assert only.paragraphs == (NEUTRAL_PARAGRAPH,)


def test_the_dashboard_policy_lets_pictures_in_only_from_plain_host_names() -> None:
    policy = dashboard_policy(["Shop.Example.com", "cdn.shopify.com", "*", "evil.test; script-src *", "http://x.test"])
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["img-src"] == "'self' data: https://cdn.shopify.com https://shop.example.com"
    assert directives["script-src"] == "'self'"


def test_at_send_time_a_dropped_picks_name_inside_a_kept_one_stays_and_the_pointer_to_no_cards_goes() -> None:
    email = content("The Linen Shirt Dress is back.", "The Linen Shirt sold out.",
                    f"We have picked a few things from shirts we think you will love; {CARDS_BELOW}")  # fmt: skip
    kept, removed = without_mentions(email, ["Linen Shirt"], still_shown=["Linen Shirt Dress"])
    assert (kept.paragraphs, removed) == (("The Linen Shirt Dress is back.", email.paragraphs[2]), 1)
    none_left, removed = without_mentions(email, ["Linen Shirt", "Linen Shirt Dress"])
    assert (none_left.paragraphs, removed) == ((NEUTRAL_PARAGRAPH,), 3)
