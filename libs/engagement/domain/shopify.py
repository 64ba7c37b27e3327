"""Shopify's shapes, read into ours: its webhooks' orders and products (the REST Admin API's JSON) and its product
CSV export.

Shopify's product ids are numbers; an order's line items name them, so a product is keyed by its id as text. The
product CSV export has no id column unless the tool that made it adds one (`ID`), so a CSV product without it is
keyed by its handle. A product's page is the shop's own URL for its handle (the shop's domain, not myshopify.com).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urljoin

from pydantic import ValidationError

from engagement.domain.catalog import ProductInput
from engagement.domain.orders import LineItem, OrderInput

ORDER_TOPICS = frozenset({"orders/create", "orders/paid"})
PRODUCT_TOPICS = frozenset({"products/create", "products/update"})
TOPICS = ORDER_TOPICS | PRODUCT_TOPICS


def signature_matches(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """Whether X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body under one of the secrets (the current
    one and, while it is being rotated, the previous), compared in constant time."""
    if not signature:
        return False
    given = signature.strip().encode()
    matched = False
    for secret in secrets:
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        matched |= hmac.compare_digest(expected, given)
    return matched


class NotForUs(ValueError):
    """A well-formed payload that records nothing (a test order, an order without a customer's address)."""


@dataclass(frozen=True)
class ShopifyCustomer:
    customer_id: str
    email: str
    name: str
    created_at: str | None
    subscribed: bool  # consented to email marketing
    withdrew: bool = False  # unsubscribed (or had their data redacted): no marketing email, even if we had consent


@dataclass(frozen=True)
class ShopifyOrder:
    customer: ShopifyCustomer
    order: OrderInput


def order_from_webhook(payload: Mapping[str, Any]) -> ShopifyOrder:
    """An orders/create or orders/paid payload as our order and the customer who placed it. ValidationError or
    ValueError name what is wrong; NotForUs when there is nothing to record."""
    if payload.get("test") is True:
        raise NotForUs("a test order")
    if payload.get("id") in (None, ""):
        raise ValueError("id: the order has no id")
    customer = payload.get("customer") or {}
    email = customer.get("email") or payload.get("email") or payload.get("contact_email")
    if not email:
        raise NotForUs("the order has no customer's email address to find the client by")
    lines = []
    for line in payload.get("line_items") or []:
        if line.get("product_id") is None:
            continue  # a custom item, not a product of the catalog
        lines.append(LineItem(product_id=str(line["product_id"]), quantity=line.get("quantity"),
                              unit_price=line.get("price"), title=(line.get("title") or None)))  # fmt: skip
    order = OrderInput(
        order_id=str(payload.get("id")),
        ordered_at=payload.get("processed_at") or payload.get("created_at"),
        amount=payload.get("total_price"),
        currency=payload.get("currency"),
        line_items=tuple(lines),
    )
    name = " ".join(part for part in (customer.get("first_name"), customer.get("last_name")) if part) or email
    consent = (customer.get("email_marketing_consent") or {}).get("state")
    subscribed = consent == "subscribed" if consent is not None else bool(customer.get("accepts_marketing"))
    withdrew = consent in ("unsubscribed", "redacted")
    return ShopifyOrder(
        customer=ShopifyCustomer(
            customer_id=str(customer.get("id") or email),
            email=str(email),
            name=str(name)[:256],
            created_at=customer.get("created_at"),
            subscribed=subscribed,
            withdrew=withdrew,
        ),
        order=order,
    )


def product_from_webhook(payload: Mapping[str, Any], shop_url: str) -> tuple[str, ProductInput]:
    """A products/create or products/update payload as (product id, our product)."""
    if payload.get("id") in (None, ""):
        raise ValueError("id: the product has no id")
    variants = payload.get("variants") or []
    image = payload.get("image") or next(iter(payload.get("images") or []), None) or {}
    return str(payload.get("id")), ProductInput(
        title=payload.get("title"),
        url=product_url(shop_url, str(payload.get("handle") or payload.get("id"))),
        image_url=image.get("src"),
        category=payload.get("product_type") or "uncategorised",
        price=_lowest_price(variant.get("price") for variant in variants),
        in_stock=payload.get("status", "active") == "active" and any(map(_available, variants)),
        updated_at=payload.get("updated_at"),
    )


def product_url(shop_url: str, handle: str) -> str:
    return urljoin(shop_url if shop_url.endswith("/") else shop_url + "/", f"products/{quote(handle, safe='')}")


def _available(variant: Mapping[str, Any]) -> bool:
    """Sellable now: Shopify does not track its stock, sells it when out of stock, or has some."""
    if variant.get("inventory_management") in (None, "") or variant.get("inventory_policy") == "continue":
        return True
    return int(variant.get("inventory_quantity") or 0) > 0


def _lowest_price(prices: Iterable[Any]) -> Decimal:
    found = []
    for price in prices:
        try:
            found.append(Decimal(str(price)))
        except InvalidOperation:
            raise ValueError(f"a variant's price {price!r} is not a number") from None
    if not found:
        raise ValueError("the product has no variant with a price")
    return min(found)


# ---- Shopify's product CSV export ----------------------------------------------------------------------------

# What an export must have to make a product of ours (the others are read when present).
CSV_REQUIRED = ("Handle", "Title", "Variant Price")


@dataclass
class CsvProduct:
    """One product's rows of a Shopify product CSV (its first row names it; the others add variants and images)."""

    handle: str
    first_line: int
    rows: list[Mapping[str, str]]

    def product(self, shop_url: str) -> tuple[str, ProductInput]:
        first = self.rows[0]
        product_id = (first.get("ID") or "").strip() or self.handle
        images = [row.get("Image Src", "").strip() for row in self.rows if row.get("Image Src", "").strip()]
        category = (first.get("Type") or "").strip() or (first.get("Product Category") or "").split(">")[-1].strip()
        variants = [row for row in self.rows if (row.get("Variant Price") or "").strip()]
        status = (first.get("Status") or "active").strip().lower()
        try:
            return product_id, ProductInput(
                title=first.get("Title"),
                url=product_url(shop_url, self.handle),
                image_url=images[0] if images else None,
                category=category or "uncategorised",
                price=_lowest_price(row["Variant Price"] for row in variants),
                in_stock=status == "active" and any(map(_csv_available, variants)),
            )
        except ValidationError:
            raise
        except ValueError as exc:
            raise ValueError(f"Variant Price: {exc}") from None


def _csv_available(row: Mapping[str, str]) -> bool:
    if not (row.get("Variant Inventory Tracker") or "").strip() or row.get("Variant Inventory Policy") == "continue":
        return True
    try:
        return int(Decimal((row.get("Variant Inventory Qty") or "0").strip() or "0")) > 0
    except InvalidOperation:
        return False
