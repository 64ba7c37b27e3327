"""A client's candidates, read from the stores: their orders, the catalog products that could be shown (those
bought with theirs, their categories' best sellers, and a page of each of their categories in stock), and the
sweep's co-purchase counts; the rules themselves are engagement.domain.recommendations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engagement.adapters.store.co_purchases import CoPurchaseRepository
from engagement.adapters.store.orders import OrderRepository
from engagement.adapters.store.products import ProductRepository
from engagement.domain.catalog import Product
from engagement.domain.models import Client, ProductPick
from engagement.domain.picks import pick_of
from engagement.domain.recommendations import candidates
from engagement.writer.base import OtherProduct

PER_CATEGORY_PAGE = 50  # in-stock products read from each of the client's categories, besides the ranked ones
MAX_OTHERS = 300  # the catalog products the guardrails keep out of the email's text, at most


@dataclass(frozen=True)
class Shortlist:
    candidates: tuple[ProductPick, ...]
    others: tuple[OtherProduct, ...]  # products of the client's categories that are not candidates


class Recommender:
    def __init__(
        self, *, orders: OrderRepository, products: ProductRepository, co_purchases: CoPurchaseRepository
    ) -> None:
        self.orders = orders
        self.products = products
        self.co_purchases = co_purchases

    def shortlist(self, client: Client, now: datetime) -> Shortlist:
        history = [order for order in self.orders.all_for_user(client.user_id) if order.ordered_at <= now]
        bought = {product for order in history for product in order.product_ids}
        build = self.co_purchases.latest()
        with_counts = self.co_purchases.bought_with(build.version, bought) if build else {}
        popularity = build.popularity() if build else {}
        catalog: dict[str, Product] = self.products.get_many(
            [*bought, *(other for counts in with_counts.values() for other in counts)]
        )
        categories = list(
            dict.fromkeys([*(catalog[p].category for p in bought if p in catalog), *client.preferred_categories])
        )
        popular = [p for category in categories for p in (build.popular.get(category, {}) if build else {})]
        catalog |= self.products.get_many(p for p in popular if p not in catalog)
        for category in categories:
            in_stock = self.products.in_stock_in(category, limit=PER_CATEGORY_PAGE)
            catalog |= {product.product_id: product for product in in_stock}
        chosen = candidates(
            history=history,
            preferred_categories=client.preferred_categories,
            catalog=catalog.values(),
            co_purchases=with_counts,
            popularity=popularity,
            now=now,
        )
        picks = tuple(pick_of(candidate) for candidate in chosen)
        shown = {pick.product_id for pick in picks}
        others = [
            OtherProduct(title=p.title, url=p.url)
            for p in catalog.values()
            if p.product_id not in shown and p.category in categories
        ]
        return Shortlist(picks, tuple(others[:MAX_OTHERS]))
