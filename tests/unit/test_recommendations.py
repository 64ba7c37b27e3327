"""The rules that choose a win-back email's products (engagement.domain.recommendations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.domain.catalog import Product
from engagement.domain.orders import Order
from engagement.domain.recommendations import candidates, co_purchase_counts, recent_popularity

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def product(product_id: str, category: str, *, in_stock: bool = True, title: str | None = None) -> Product:
    return Product.model_validate({
        "productId": product_id, "title": title or product_id.title(), "category": category, "price": "20.00",
        "url": f"https://shop.example.com/products/{product_id}", "currency": "USD", "inStock": in_stock,
        "updatedAt": NOW,
    })  # fmt: skip


def order(user_id: str, days_ago: float, *product_ids: str) -> Order:
    at = NOW - timedelta(days=days_ago)
    return Order.model_validate({
        "userId": user_id, "orderId": f"{user_id}-{days_ago}", "orderedAt": at, "recordedAt": at,
        "amount": Decimal(20 * len(product_ids)), "currency": "USD", "source": "api",
        "lineItems": [{"productId": p, "quantity": 1, "unitPrice": "20.00"} for p in product_ids],
    })  # fmt: skip


CATALOG = [
    product("linen-trousers", "pants", title="Linen trousers"),
    product("chinos", "pants"),
    product("joggers", "pants"),
    product("wide-leg", "pants"),
    product("oxford", "shirts"),
    product("poplin", "shirts"),
    product("flannel", "shirts", in_stock=False),
    product("tote", "bags"),
    product("scarf", "accessories"),
]


def pick(history: list[Order], shop: list[Order], preferred: tuple[str, ...] = (), **rules: Any) -> list[Any]:
    return candidates(history=history, preferred_categories=preferred, catalog=CATALOG,
                      co_purchases=co_purchase_counts(shop), popularity=recent_popularity(shop, NOW), now=NOW,
                      **rules)  # fmt: skip


def test_a_trousers_buyer_gets_what_others_bought_with_them_first_each_with_its_reason() -> None:
    mine = [order("me", 260, "linen-trousers")]  # March
    shop = [*mine, order("a", 50, "linen-trousers", "wide-leg"), order("b", 40, "linen-trousers", "wide-leg", "tote"),
            order("c", 10, "chinos"), order("c", 5, "chinos"), order("d", 3, "joggers")]  # fmt: skip

    picked = pick(mine, shop, ("shirts", "bags"))

    # pants (bought), shirts and bags (preferred), two a category at most; never the scarf (not theirs), nor the
    # flannel shirt (out of stock), nor the joggers (pants are full)
    assert [(c.product.product_id, c.rank) for c in picked] == [
        ("wide-leg", 1),
        ("tote", 2),
        ("chinos", 3),
        ("oxford", 4),
        ("poplin", 5),
    ]
    assert picked[0].reason == "bought with the Linen trousers you ordered in March"
    assert picked[1].reason == "bought with the Linen trousers you ordered in March"
    assert picked[2].reason == "best seller in pants this month"
    assert picked[3].reason == "in shirts, which you like"


def test_a_category_the_client_bought_from_is_one_they_buy() -> None:
    mine = [order("me", 200, "oxford")]
    picked = pick(mine, mine)  # bought 200 days ago: the oxford may come again; the flannel is out of stock
    assert [(c.product.product_id, c.reason) for c in picked] == [
        ("oxford", "in shirts, which you buy"),
        ("poplin", "in shirts, which you buy"),
    ]


def test_what_the_client_bought_recently_is_not_offered_again_but_an_old_purchase_may_be() -> None:
    mine = [order("me", 10, "chinos"), order("me", 400, "joggers")]
    picked = {c.product.product_id for c in pick(mine, mine)}
    assert "chinos" not in picked
    assert "joggers" in picked


def test_at_most_two_a_category_and_six_in_all() -> None:
    mine = [order("me", 200, "linen-trousers", "oxford", "tote", "scarf")]
    picked = pick(mine, mine, ("pants", "shirts", "bags", "accessories"))
    per_category: dict[str, int] = {}
    for candidate in picked:
        per_category[candidate.product.category] = per_category.get(candidate.product.category, 0) + 1
    assert max(per_category.values()) <= 2
    assert len(picked) <= 6
    assert len(pick(mine, mine, ("pants",), limit=3, per_category=1)) == 3


def test_a_client_with_no_history_and_no_preference_gets_nothing() -> None:
    assert pick([], []) == []


ids = st.sampled_from([p.product_id for p in CATALOG] + ["gone"])


@settings(max_examples=150, deadline=None)
@given(
    mine=st.lists(st.tuples(st.floats(0, 800), st.lists(ids, min_size=1, max_size=3)), max_size=6),
    others=st.lists(
        st.tuples(st.sampled_from("abcd"), st.floats(0, 800), st.lists(ids, min_size=1, max_size=3)), max_size=20
    ),
    preferred=st.lists(st.sampled_from(["pants", "shirts", "bags", "accessories", "shoes"]), max_size=3),
)
def test_every_candidate_is_a_real_in_stock_product_of_the_clients_categories(
    mine: list[Any], others: list[Any], preferred: list[str]
) -> None:
    history = [order("me", days, *products) for days, products in mine]
    shop = history + [order(user, days, *products) for user, days, products in others]
    picked = pick(history, shop, tuple(preferred))
    known = {p.product_id: p for p in CATALOG}
    bought_categories = {known[line.product_id].category for o in history for line in o.line_items
                         if line.product_id in known}  # fmt: skip
    assert [c.rank for c in picked] == list(range(1, len(picked) + 1))
    assert len(picked) <= 6
    for candidate in picked:
        assert known[candidate.product.product_id] == candidate.product
        assert candidate.product.in_stock
        assert candidate.product.category in bought_categories | set(preferred)
        assert candidate.reason


def test_the_offline_evaluation_compares_the_rules_with_best_sellers() -> None:
    from scripts.evaluate_recommendations import evaluate

    figures = evaluate(150, 7, 3)  # the seeded shop's clients buy mostly from their own categories
    assert figures["clients"] == 106
    assert figures["hitRate"] > 2 * figures["bestSellersHitRate"]
