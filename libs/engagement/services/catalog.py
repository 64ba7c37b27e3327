"""The shop's catalog: products put, read, listed and removed by the API, a catalog file or a store's webhook."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engagement.adapters.store.pagination import Page
from engagement.adapters.store.products import ProductRepository
from engagement.clock import Clock
from engagement.domain.catalog import Product, ProductInput


@dataclass(frozen=True)
class Stored:
    product: Product
    stored: bool  # False: the catalog holds a newer version (updatedAt), which stays


class CatalogService:
    def __init__(
        self,
        *,
        products: ProductRepository,
        clock: Clock,
        domains: Sequence[str],
        shop_currency: str,
        image_domains: Sequence[str] = (),
    ) -> None:
        self.products = products
        self.clock = clock
        self.domains = tuple(domains)
        self.image_domains = tuple(image_domains)
        self.shop_currency = shop_currency

    def put(self, product_id: str, given: ProductInput) -> Stored:
        """Store a product (ProductRefused names a field that breaks the shop's rules)."""
        product = Product.accept(product_id, given, domains=self.domains, image_domains=self.image_domains,
                                 shop_currency=self.shop_currency, now=self.clock.now())  # fmt: skip
        return Stored(product, self.products.put(product))

    def get(self, product_id: str) -> Product | None:
        return self.products.get(product_id)

    def delete(self, product_id: str) -> bool:
        return self.products.delete(product_id)

    def page(
        self, *, limit: int, cursor: str | None = None, category: str | None = None, in_stock: bool | None = None
    ) -> Page[Product]:
        return self.products.page(limit=limit, cursor=cursor, category=category, in_stock=in_stock)
