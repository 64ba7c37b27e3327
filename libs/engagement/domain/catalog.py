"""The shop's products: what an email may show a client, so only what the shop itself sells and links to.

A product's page must be on the shop's own domains (or their subdomains), and its picture there or on the image
hosts the shop names (its store's CDN, such as cdn.shopify.com): an email never links, or loads a picture, anywhere
else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator

from engagement.clock import format_instant
from engagement.domain.models import CamelModel, Instant, has_control_characters
from engagement.domain.orders import PRODUCT_ID_PATTERN, Currency, Money, fits_currency

MAX_CATEGORY_LENGTH = 100


class ProductInput(CamelModel):
    """A product as a caller sends it (the API, a catalog file's row, a store's webhook, mapped)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=256)
    url: str = Field(max_length=2048, description="The product's page, on the shop's own domain")
    image_url: str | None = Field(default=None, max_length=2048, description="On the shop's own domain (or its CDN)")
    category: str = Field(min_length=1, max_length=MAX_CATEGORY_LENGTH)
    price: Money
    currency: Currency | None = Field(default=None, description="ISO 4217; the shop's currency if absent")
    in_stock: bool = True
    updated_at: Instant | None = Field(default=None, description="When the shop last changed it; now if absent")

    @field_validator("title", "category")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        if has_control_characters(value) or not value.strip():
            raise ValueError("must be plain text (no line breaks or control characters)")
        return value.strip()

    @field_validator("url", "image_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
            raise ValueError("must be an https:// address with a host and no user name")
        if has_control_characters(value) or any(character in value for character in " <>\"'`\\"):
            raise ValueError("must not contain spaces, quotes, angle brackets or control characters")
        return value.strip()


class ProductRefused(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def on_domains(url: str, domains: Iterable[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == domain or host.endswith(f".{domain}") for domain in (d.lower() for d in domains))


class Product(CamelModel):
    """A product as stored: one item of the products table."""

    model_config = ConfigDict(extra="ignore")

    product_id: str = Field(pattern=PRODUCT_ID_PATTERN)
    title: str
    url: str
    image_url: str | None = None
    category: str
    price: Decimal
    currency: str
    in_stock: bool
    updated_at: Instant

    @classmethod
    def accept(
        cls,
        product_id: str,
        given: ProductInput,
        *,
        domains: Iterable[str],
        image_domains: Iterable[str] = (),
        shop_currency: str,
        now: datetime,
    ) -> Product:
        """The product to store, or ProductRefused naming the field: its page on the shop's domains, its picture
        there or on the shop's image hosts, priced in the shop's currency."""
        domains = tuple(domains)
        if not on_domains(given.url, domains):
            raise ProductRefused("url", f"must be on the shop's own domains ({', '.join(domains)})")
        pictures = (*domains, *image_domains)
        if given.image_url is not None and not on_domains(given.image_url, pictures):
            raise ProductRefused("imageUrl", f"must be on the shop's domains or image hosts ({', '.join(pictures)})")
        currency = given.currency or shop_currency
        if not fits_currency(given.price, currency):
            raise ProductRefused("price", f"{given.price} has more decimals than {currency} has")
        if currency != shop_currency:
            raise ProductRefused(
                "currency", f"the shop's currency is {shop_currency}; {currency} prices need converting"
            )
        return cls(
            product_id=product_id,
            title=given.title,
            url=given.url,
            image_url=given.image_url,
            category=given.category,
            price=given.price,
            currency=currency,
            in_stock=given.in_stock,
            updated_at=given.updated_at or now,
        )

    def item(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True) | {"updatedAt": format_instant(self.updated_at)}
