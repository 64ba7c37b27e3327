"""Orders, the aggregates they make, the catalog's rules and Shopify's shapes: pure logic, no AWS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from engagement.domain.catalog import Product, ProductInput, ProductRefused
from engagement.domain.orders import (
    Aggregates,
    BrokenAggregates,
    Flag,
    LineItem,
    Order,
    OrderInput,
    OrderRefused,
    OrderSource,
    aggregates_of,
    check_order,
    derives_categories,
    flags_for,
    recompute,
)
from engagement.domain.shopify import CsvProduct, NotForUs, order_from_webhook, product_from_webhook, signature_matches

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
CATEGORIES = {"p-1": "tops", "p-2": "pants", "p-3": "tops", "p-4": "shoes"}


def _order(number: int, cents: int, days_ago: float, lines: list[tuple[str, int]]) -> Order:
    items = tuple(LineItem(product_id=product, quantity=quantity, unit_price=Decimal(1)) for product, quantity in lines)
    return Order(user_id="c-1", order_id=f"o-{number}", ordered_at=NOW - timedelta(days=days_ago),
                 amount=Decimal(cents) / 100, currency="USD", line_items=items, source=OrderSource.IMPORT,
                 recorded_at=NOW)  # fmt: skip


orders = st.lists(
    st.builds(
        _order,
        st.integers(0, 10**6),
        st.integers(0, 10**8),
        st.floats(0, 3000, allow_nan=False),
        st.lists(st.tuples(st.sampled_from([*CATEGORIES, "unknown"]), st.integers(1, 5)), max_size=4),
    ),
    max_size=30,
)


@given(orders, st.randoms())
def test_orders_added_one_at_a_time_in_any_order_give_the_aggregates_of_all_of_them(
    history: list[Order], shuffler: Any
) -> None:
    arrived = list(history)
    shuffler.shuffle(arrived)  # webhooks and imports do not arrive in date order
    step_by_step = Aggregates()
    for order in arrived:
        step_by_step = step_by_step.with_order(order, CATEGORIES)

    assert step_by_step == recompute(sorted(history, key=lambda o: o.ordered_at), CATEGORIES)
    assert step_by_step.order_count == len(history)
    assert step_by_step.total_spent == sum((o.amount for o in history), Decimal(0))
    if history:
        assert step_by_step.first_order_date == min(o.ordered_at for o in history)
        assert step_by_step.last_order_date == max(o.ordered_at for o in history)
        assert step_by_step.average_order_value == (step_by_step.total_spent / len(history)).quantize(Decimal("0.01"))
    stored = {name: value for name, value in step_by_step.attributes(derive_categories=True).items()}
    assert aggregates_of(stored) == step_by_step  # what is written reads back as the same aggregates


def test_preferred_categories_follow_the_orders_unless_the_shop_set_them() -> None:
    aggregates = Aggregates(order_count=3, category_counts={"tops": 4, "shoes": 1, "pants": 4, "bags": 2})
    assert aggregates.preferred_categories == ["pants", "tops", "bags"]  # most units first, ties by name
    assert derives_categories({"userId": "c"})
    assert derives_categories({"preferredCategories": ["tops"], "preferredCategoriesFrom": "orders"})
    assert not derives_categories({"preferredCategories": ["knitwear"]})  # the shop's (or the original system's)
    assert "preferredCategories" not in aggregates.attributes(derive_categories=False)


def test_an_upstream_writers_aggregates_are_the_starting_point_and_a_broken_one_is_named() -> None:
    upstream = aggregates_of({"orderCount": Decimal(3), "averageOrderValue": Decimal("80"),
                              "lastOrderDate": "2026-05-01T08:00:00.000Z"})  # fmt: skip
    assert (upstream.order_count, upstream.total_spent, upstream.first_order_date) == (
        3, Decimal("240.00"), datetime(2026, 5, 1, 8, tzinfo=UTC))  # no first date: no later than the last  # fmt: skip
    with pytest.raises(BrokenAggregates, match="orderCount is 'many'"):
        aggregates_of({"orderCount": "many"})
    with pytest.raises(BrokenAggregates, match="lastOrderDate"):
        aggregates_of({"orderCount": 1, "lastOrderDate": "yesterday"})


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"amount": -1}, "amount", "must not be negative"),
        ({"amount": "ten"}, "amount", "decimal"),
        ({"amount": "NaN"}, "amount", ""),
        ({"amount": "Infinity"}, "amount", ""),
        ({"amount": "1.0005"}, "amount", "more than three decimal places"),
        ({"amount": 1, "currency": "XYZ"}, "currency", "not an ISO 4217 currency code"),
        ({"amount": 1, "orderedAt": "2026-11-01T10:00:00"}, "orderedAt", "timezone"),
        ({"amount": 1, "orderId": "a b"}, "orderId", "pattern"),
        ({"amount": 1, "lineItems": [{"productId": "p-1", "quantity": 0, "unitPrice": 1}]}, "lineItems.0.quantity", ""),
        ({"amount": 1, "lineItems": [{"productId": "p-1", "quantity": 1, "unitPrice": -2}]}, "lineItems.0.unitPrice",
         "negative"),
        ({"amount": 1, "colour": "red"}, "colour", "Extra inputs"),
    ],
)  # fmt: skip
def test_a_bad_order_names_the_field_and_the_reason(values: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        OrderInput.model_validate(values)
    problems = {".".join(str(p) for p in e["loc"]): str(e["msg"]) for e in raised.value.errors()}
    assert field in problems
    assert message.lower() in problems[field].lower()


def test_an_order_in_the_future_before_the_client_joined_or_in_another_currency_is_refused() -> None:
    joined = datetime(2025, 1, 10, 9, tzinfo=UTC)

    def check(**values: Any) -> tuple[datetime, str]:
        order = OrderInput(**{"amount": Decimal(10), **values})
        return check_order(order, now=NOW, client_since=joined, shop_currency="USD")

    assert check() == (NOW, "USD")  # no date: now; no currency: the shop's
    assert check(ordered_at=NOW + timedelta(minutes=4)) == (NOW + timedelta(minutes=4), "USD")  # clock skew
    for values, field, reason in (
        ({"ordered_at": NOW + timedelta(hours=1)}, "orderedAt", "in the future"),
        ({"ordered_at": joined - timedelta(days=1)}, "orderedAt", "before the client joined"),
        ({"currency": "EUR"}, "currency", "the shop's currency is USD"),
    ):
        with pytest.raises(OrderRefused) as refused:
            check(**values)
        assert (refused.value.field, reason in refused.value.message) == (field, True)
    with pytest.raises(OrderRefused, match="more decimals than USD has"):
        check(amount=Decimal("10.005"))
    kuwaiti = check_order(OrderInput(amount=Decimal("12.345")), now=NOW, client_since=None, shop_currency="KWD")
    assert kuwaiti == (NOW, "KWD")  # fils: three decimals
    for values, field, reason in ():
        with pytest.raises(OrderRefused) as refused:
            check(**values)
        assert (refused.value.field, reason in refused.value.message) == (field, True)


def test_line_items_that_disagree_with_the_amount_or_name_unknown_products_are_flagged_not_refused() -> None:
    lines = (LineItem(product_id="p-1", quantity=2, unit_price=Decimal("10.00")),
             LineItem(product_id="zzz", quantity=1, unit_price=Decimal("5.00")))  # fmt: skip
    assert flags_for(OrderInput(amount=Decimal("25.00"), line_items=lines), CATEGORIES) == (
        (Flag.UNKNOWN_PRODUCTS,), ("zzz",))  # fmt: skip
    assert flags_for(OrderInput(amount=Decimal("31.50"), line_items=lines), {**CATEGORIES, "zzz": "x"}) == (
        (Flag.LINE_TOTALS_DISAGREE,), ())  # fmt: skip
    assert flags_for(OrderInput(amount=Decimal("31.50")), CATEGORIES) == ((), ())  # no lines: nothing to compare


def test_a_product_links_only_to_the_shop_and_pictures_come_from_the_shop_or_its_image_host() -> None:
    def accept(**changes: Any) -> Product:
        values = {"title": "Linen trousers", "url": "https://shop.example.com/products/linen-trousers",
                  "category": "pants", "price": "79.00"} | changes  # fmt: skip
        return Product.accept("p-1", ProductInput.model_validate(values), domains=("shop.example.com",),
                              image_domains=("cdn.shopify.com",), shop_currency="USD", now=NOW)  # fmt: skip

    assert accept(imageUrl="https://cdn.shopify.com/a.jpg").in_stock
    assert accept(url="https://www.shop.example.com/p").url == "https://www.shop.example.com/p"  # a subdomain
    for changes, field in (
        ({"url": "https://shop.example.com.evil.net/p"}, "url"),
        ({"url": "https://evil.net/?https://shop.example.com/"}, "url"),
        ({"imageUrl": "https://tracker.example.net/pixel.gif"}, "imageUrl"),
        ({"currency": "EUR"}, "currency"),
    ):
        with pytest.raises(ProductRefused) as refused:
            accept(**changes)
        assert refused.value.field == field
    for bad in ("http://shop.example.com/p", "javascript:alert(1)", "https://user:pw@shop.example.com/p",
                'https://shop.example.com/p"><script>'):  # fmt: skip
        with pytest.raises(ValidationError):
            ProductInput(title="t", url=bad, category="c", price=Decimal(1))


def signed(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_webhook_signature_is_the_bodys_hmac_under_the_secret() -> None:
    body = (FIXTURES / "orders_create.json").read_bytes()
    good = signed(body, "s3cret")
    assert signature_matches(body, good, ["s3cret"])
    assert signature_matches(body, good, ["old-secret", "s3cret"])  # while the secret is being rotated
    assert not signature_matches(body + b" ", good, ["s3cret"])
    assert not signature_matches(body, good, ["other"])
    assert not signature_matches(body, None, ["s3cret"])
    assert not signature_matches(body, "", ["s3cret"])
    assert not signature_matches(body, "not base64 at all!", ["s3cret"])


def test_a_shopify_order_becomes_our_order_and_its_customer() -> None:
    payload = json.loads((FIXTURES / "orders_create.json").read_text())
    placed = order_from_webhook(payload)
    assert (placed.order.order_id, placed.order.amount, placed.order.currency) == ("5723981234567", Decimal("139.32"),
                                                                                   "USD")  # fmt: skip
    assert placed.order.ordered_at == datetime(2026, 11, 27, 19, 2, 10, tzinfo=UTC)
    assert [(line.product_id, line.quantity, line.unit_price) for line in placed.order.line_items] == [
        ("8100000001", 1, Decimal("79.00")), ("8100000002", 2, Decimal("25.00"))]  # fmt: skip
    assert (placed.customer.email, placed.customer.name, placed.customer.subscribed) == (
        "maya.chen@example.com", "Maya Chen", True)  # fmt: skip
    withdrawn = {"email_marketing_consent": {"state": "unsubscribed"}}
    unsubscribed = {**payload, "customer": {**payload["customer"], **withdrawn}}
    assert not order_from_webhook(unsubscribed).customer.subscribed
    with pytest.raises(NotForUs, match="test order"):
        order_from_webhook({**payload, "test": True})
    with pytest.raises(NotForUs, match="email"):
        order_from_webhook({**payload, "customer": None, "email": None, "contact_email": None})
    with pytest.raises(ValueError, match="no id"):
        order_from_webhook({**payload, "id": None})


def test_a_shopify_product_and_its_csv_export_become_our_product() -> None:
    payload = json.loads((FIXTURES / "products_create.json").read_text())
    product_id, product = product_from_webhook(payload, "https://shop.example.com/")
    assert (product_id, product.url, product.price, product.in_stock, product.category) == (
        "8100000001", "https://shop.example.com/products/linen-trousers", Decimal("79.00"), True, "pants")  # fmt: skip
    sold_out = {**payload, "variants": [{**v, "inventory_quantity": 0} for v in payload["variants"]]}
    assert not product_from_webhook(sold_out, "https://shop.example.com/")[1].in_stock
    assert not product_from_webhook({**payload, "status": "draft"}, "https://shop.example.com/")[1].in_stock
    with pytest.raises(ValueError, match="no id"):
        product_from_webhook({**payload, "id": None}, "https://shop.example.com/")

    rows = [
        {"Handle": "linen-trousers", "Title": "Linen trousers", "Type": "pants", "Status": "active",
         "Variant Price": "82.00", "Variant Inventory Tracker": "shopify", "Variant Inventory Qty": "0",
         "Image Src": "https://cdn.shopify.com/a.jpg"},
        {"Handle": "linen-trousers", "Variant Price": "79.00", "Variant Inventory Tracker": "shopify",
         "Variant Inventory Qty": "3", "Image Src": "https://cdn.shopify.com/b.jpg"},
    ]  # fmt: skip
    product_id, product = CsvProduct("linen-trousers", 2, rows).product("https://shop.example.com")
    assert (product_id, product.price, product.in_stock, product.image_url) == (
        "linen-trousers", Decimal("79.00"), True, "https://cdn.shopify.com/a.jpg")  # fmt: skip


def test_an_upstream_writers_orders_stay_counted_through_our_orders_their_later_writes_and_a_recount() -> None:
    def order(number: int, amount: str, day: int) -> Order:
        return Order(user_id="c-1", order_id=f"o-{number}", ordered_at=datetime(2026, 11, day, tzinfo=UTC),
                     amount=Decimal(amount), currency="USD", source=OrderSource.API, recorded_at=NOW)  # fmt: skip

    upstream = {"orderCount": Decimal(5), "averageOrderValue": Decimal(50), "lastOrderDate": "2026-10-01T00:00:00.000Z"}
    first = order(1, "100", 5)
    item = upstream | aggregates_of(upstream).with_order(first, {}).attributes(derive_categories=False)
    assert (item["orderCount"], item["totalSpent"], item["averageOrderValue"]) == (6, Decimal(350), Decimal("58.33"))
    assert recompute([first], {}, aggregates_of(item).baseline) == aggregates_of(item)  # a recount keeps the 5

    item |= {"orderCount": Decimal(8), "averageOrderValue": Decimal(60)}  # the original system's writer, later
    now = aggregates_of(item)
    assert (now.order_count, now.total_spent, now.baseline.order_count, now.baseline.total_spent) == (
        8, Decimal(480), 7, Decimal(380))  # upstream's figures win; ours (one order, 100) stay on top  # fmt: skip
    second = order(2, "100", 20)
    after = now.with_order(second, {})
    assert (after.order_count, after.total_spent, after.average_order_value) == (9, Decimal(580), Decimal("64.44"))
    stored = item | after.attributes(derive_categories=False)
    assert recompute([first, second], {}, aggregates_of(stored).baseline) == aggregates_of(stored)
