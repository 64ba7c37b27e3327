"""How often a client's next order contains one of the products their email would have shown: the candidate rules
(engagement.domain.recommendations) against showing the shop's best sellers, on the seeded shop's histories.

    python scripts/evaluate_recommendations.py [--count 400] [--seed 7] [--top 3]

For every client with at least two orders, the last order is held out: the candidates are computed from the orders
placed before it (the client's and everyone's, with the popularity of the 30 days before it and the catalog as it
is), and it is a hit when the held-out order contains one of the top `--top` candidates. The baseline shows the
`--top` best sellers of those 30 days that are in stock and that the client did not buy in the 90 days before; and
the same rules without the co-purchase counts show what they add. It prints the hit rates as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from engagement.domain.catalog import Product
from engagement.domain.orders import Order
from engagement.domain.recommendations import RECENT_DAYS, candidates, co_purchase_counts, recent_popularity
from scripts.seed_users import generate_shop


def evaluate(count: int, seed: int, top: int) -> dict[str, Any]:
    shop = generate_shop(count, seed=seed)
    catalog = [Product.model_validate(item) for item in shop.products]
    orders = sorted((Order.model_validate(item) for item in shop.orders), key=lambda order: order.ordered_at)
    preferred = {client["userId"]: tuple(client.get("preferredCategories", ())) for client in shop.clients}
    by_client: dict[str, list[Order]] = {}
    for order in orders:
        by_client.setdefault(order.user_id, []).append(order)
    hits, plain_hits, baseline_hits, evaluated = 0, 0, 0, 0
    for user_id, history in by_client.items():
        if len(history) < 2:
            continue
        held_out, before = history[-1], history[:-1]
        cutoff = held_out.ordered_at
        earlier = [order for order in orders if order.ordered_at < cutoff]
        popularity = recent_popularity(earlier, cutoff)
        bought_next = {line.product_id for line in held_out.line_items}
        picked = candidates(history=before, preferred_categories=preferred.get(user_id, ()), catalog=catalog,
                            co_purchases=co_purchase_counts(earlier), popularity=popularity, now=cutoff,
                            limit=top)  # fmt: skip
        hits += any(candidate.product.product_id in bought_next for candidate in picked)
        plain = candidates(history=before, preferred_categories=preferred.get(user_id, ()), catalog=catalog,
                           co_purchases={}, popularity=popularity, now=cutoff, limit=top)  # fmt: skip
        plain_hits += any(candidate.product.product_id in bought_next for candidate in plain)
        recently = {line.product_id for order in before if (cutoff - order.ordered_at).days < RECENT_DAYS
                    for line in order.line_items}  # fmt: skip
        best_sellers = [product.product_id for product in sorted(
            (p for p in catalog if p.in_stock and p.product_id not in recently),
            key=lambda p: (-popularity.get(p.product_id, 0), p.product_id))][:top]  # fmt: skip
        baseline_hits += bool(bought_next & set(best_sellers))
        evaluated += 1
    return {
        "clients": evaluated,
        "top": top,
        "hitRate": round(hits / evaluated, 4) if evaluated else None,
        "withoutCoPurchasesHitRate": round(plain_hits / evaluated, 4) if evaluated else None,
        "bestSellersHitRate": round(baseline_hits / evaluated, 4) if evaluated else None,
        "orders": len(orders),
        "products": len(catalog),
        "productsOrdered": len(Counter(line.product_id for order in orders for line in order.line_items)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400, help="clients in the seeded shop (default 400)")
    parser.add_argument("--seed", type=int, default=7, help="the shop's seed (default 7, make demo's)")
    parser.add_argument("--top", type=int, default=3, help="picks an email shows (default 3)")
    args = parser.parse_args(argv)
    print(json.dumps(evaluate(args.count, args.seed, args.top), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
