"""make bench, section 9: the candidate rules (engagement.domain.recommendations): building the co-purchase counts
and the month's popularity from about 100,000 orders, and computing one client's candidates from them."""

from __future__ import annotations

import time

from engagement.domain.catalog import Product
from engagement.domain.orders import Order
from engagement.domain.recommendations import candidates, co_purchase_counts, recent_popularity
from scripts.seed_users import generate_shop


def recommendations(*, quick: bool = False) -> None:
    clients = 400 if quick else 20_000  # about five orders a client: 100,000 orders
    began = time.perf_counter()
    shop = generate_shop(clients, seed=9)
    orders = [Order.model_validate(item) for item in shop.orders]
    catalog = [Product.model_validate(item) for item in shop.products]
    print(f"\n9. Product candidates ({len(orders):,} orders of {clients:,} clients, {len(catalog)} products; "
          f"generated in {time.perf_counter() - began:.0f} s)")  # fmt: skip
    now = max(order.ordered_at for order in orders)
    began = time.perf_counter()
    co_purchases = co_purchase_counts(orders)
    popularity = recent_popularity(orders, now)
    built = time.perf_counter() - began
    pairs = sum(len(others) for others in co_purchases.values())
    print(f"   co-purchase counts and popularity: {built:.2f} s ({pairs:,} product pairs)")
    by_client: dict[str, list[Order]] = {}
    for order in orders:
        by_client.setdefault(order.user_id, []).append(order)
    sample = list(by_client.items())[:1_000]
    preferred = {client["userId"]: client.get("preferredCategories", ()) for client in shop.clients}
    began = time.perf_counter()
    for user_id, history in sample:
        candidates(history=history, preferred_categories=preferred[user_id], catalog=catalog,
                   co_purchases=co_purchases, popularity=popularity, now=now)  # fmt: skip
    each = (time.perf_counter() - began) / len(sample) * 1000
    print(f"   one client's candidates: {each:.2f} ms (mean of {len(sample):,} clients, the whole catalog read)")
