"""Orders and the aggregates a client's item carries about them.

An order is one purchase: the client, the shop's order id, when, how much in which currency, and its line items
(product, quantity, unit price). The client's aggregates (orderCount, totalSpent, averageOrderValue, firstOrderDate,
lastOrderDate, and the categories bought) are a fold over their orders: `with_order` adds one order to aggregates,
`recompute` folds them all, and the two always agree (a property test checks it), because money is kept in exact
decimals and the average is derived from the total, never averaged step by step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field

from engagement.clock import as_utc, format_instant, parse_instant
from engagement.domain.models import CamelModel, Instant

# ISO 4217's active currency codes (the ISO 4217 maintenance agency's list one, as published by SIX in 2024).
_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF "
    "CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD "
    "HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD "
    "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN "
    "PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY "
    "TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG"
)
CURRENCIES = frozenset(_CODES.split())
MAX_AMOUNT = Decimal(10_000_000)
MAX_LINE_ITEMS = 250  # Shopify's own limit on an order's line items
CLOCK_SKEW = timedelta(minutes=5)  # an order stamped a little ahead of our clock is not refused for it
TOP_CATEGORIES = 3  # preferredCategories derived from orders: the client's three most bought
ORDER_ID_PATTERN = r"^[A-Za-z0-9._:#/-]{1,128}$"
PRODUCT_ID_PATTERN = r"^[A-Za-z0-9._:/-]{1,128}$"


def _currency(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (for example USD, EUR, GBP)")
    return code


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a number")
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("has more than two decimal places")
    return value.quantize(Decimal("0.01"))


def _to_the_millisecond(instant: datetime) -> datetime:
    """As stored (engagement.clock.format_instant keeps milliseconds), so what is folded is what is read back."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


Currency = Annotated[str, AfterValidator(_currency)]
Stored = Annotated[Instant, AfterValidator(_to_the_millisecond)]
Money = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_money)]


class OrderSource(StrEnum):
    API = "api"
    IMPORT = "import"
    SHOPIFY = "shopify"


class Flag(StrEnum):
    """Accepted, but worth a look: an order is stored with the flags it raised."""

    LINE_TOTALS_DISAGREE = "line_totals_disagree"  # the line items do not add up to the amount (shipping, tax...)
    UNKNOWN_PRODUCTS = "unknown_products"  # a line item names a product the catalog does not have


class LineItem(CamelModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(pattern=PRODUCT_ID_PATTERN)
    quantity: int = Field(ge=1, le=100_000)
    unit_price: Money
    title: str | None = Field(default=None, max_length=256)

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


class OrderInput(CamelModel):
    """An order as a caller sends it (the API, a file's row, a store's webhook, mapped)."""

    model_config = ConfigDict(extra="forbid")

    order_id: str | None = Field(default=None, pattern=ORDER_ID_PATTERN, description="Sent again, it counts once")
    ordered_at: AwareDatetime | None = Field(default=None, description="ISO 8601 with an offset; now if absent")
    amount: Money = Field(description="What the client paid, in currency")
    currency: Currency | None = Field(default=None, description="ISO 4217; the shop's currency if absent")
    line_items: tuple[LineItem, ...] = Field(default=(), max_length=MAX_LINE_ITEMS)


class Order(CamelModel):
    """An order as stored: one item of the orders table."""

    model_config = ConfigDict(extra="ignore")

    user_id: str
    order_id: str
    ordered_at: Stored
    amount: Money
    currency: Currency
    line_items: tuple[LineItem, ...] = ()
    source: OrderSource
    recorded_at: Stored
    flags: tuple[Flag, ...] = ()
    unknown_product_ids: tuple[str, ...] = ()

    def item(self) -> dict[str, Any]:
        """The orders table's item: money as exact decimals, instants in the one stored format."""
        values = self.model_dump(by_alias=True, exclude_none=True)
        values |= {
            "orderedAt": format_instant(self.ordered_at),
            "recordedAt": format_instant(self.recorded_at),
            "source": self.source.value,
            "flags": [flag.value for flag in self.flags],
            "lineItems": [line.model_dump(by_alias=True, exclude_none=True) for line in self.line_items],
        }
        return values


class OrderRefused(ValueError):
    """An order that breaks a rule beyond its shape: (field, message)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def check_order(
    given: OrderInput,
    *,
    now: datetime,
    client_since: datetime | None,
    shop_currency: str,
) -> tuple[datetime, str]:
    """When the order was placed and its currency, or OrderRefused naming the field: not in the future, not before
    the client joined, in the shop's currency (the aggregates add amounts up, so they must share a currency)."""
    at = as_utc(given.ordered_at) if given.ordered_at is not None else now
    if at > now + CLOCK_SKEW:
        raise OrderRefused("orderedAt", f"{format_instant(at)} is in the future")
    if client_since is not None and at < client_since - CLOCK_SKEW:
        raise OrderRefused(
            "orderedAt", f"{format_instant(at)} is before the client joined ({format_instant(client_since)})"
        )
    currency = given.currency or shop_currency
    if currency != shop_currency:
        raise OrderRefused("currency", f"the shop's currency is {shop_currency}; {currency} amounts need converting")
    return at, currency


def flags_for(given: OrderInput, known_products: Iterable[str]) -> tuple[tuple[Flag, ...], tuple[str, ...]]:
    """The flags an accepted order carries, and the product ids the catalog did not know."""
    known = set(known_products)
    unknown = tuple(dict.fromkeys(line.product_id for line in given.line_items if line.product_id not in known))
    flags: list[Flag] = []
    if given.line_items and sum((line.total for line in given.line_items), Decimal(0)) != given.amount:
        flags.append(Flag.LINE_TOTALS_DISAGREE)
    if unknown:
        flags.append(Flag.UNKNOWN_PRODUCTS)
    return tuple(flags), unknown


@dataclass(frozen=True)
class Aggregates:
    """What a client's item says about their orders."""

    order_count: int = 0
    total_spent: Decimal = Decimal(0)
    first_order_date: datetime | None = None
    last_order_date: datetime | None = None
    category_counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def average_order_value(self) -> Decimal:
        if not self.order_count:
            return Decimal(0)
        return (self.total_spent / self.order_count).quantize(Decimal("0.01"))

    @property
    def preferred_categories(self) -> list[str]:
        """The categories bought most (by units), most first; ties by name."""
        ranked = sorted(self.category_counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return [name for name, _ in ranked[:TOP_CATEGORIES]]

    def with_order(self, order: Order, categories: Mapping[str, str]) -> Aggregates:
        """These aggregates with one more order; categories: product id -> category, for its line items."""
        counts = Counter(self.category_counts)
        for line in order.line_items:
            category = categories.get(line.product_id)
            if category:
                counts[category] += line.quantity
        at = order.ordered_at
        return replace(
            self,
            order_count=self.order_count + 1,
            total_spent=self.total_spent + order.amount,
            first_order_date=min(self.first_order_date, at) if self.first_order_date else at,
            last_order_date=max(self.last_order_date, at) if self.last_order_date else at,
            category_counts=dict(counts),
        )

    def attributes(self, *, derive_categories: bool) -> dict[str, Any]:
        """The users item's attributes for these aggregates (preferredCategories only when derived from orders)."""
        values: dict[str, Any] = {
            "orderCount": self.order_count,
            "totalSpent": self.total_spent,
            "averageOrderValue": self.average_order_value,
            "firstOrderDate": format_instant(self.first_order_date) if self.first_order_date else None,
            "lastOrderDate": format_instant(self.last_order_date) if self.last_order_date else None,
            "categoryCounts": dict(self.category_counts) or None,
        }
        if derive_categories and self.category_counts:
            values["preferredCategories"] = self.preferred_categories
            values["preferredCategoriesFrom"] = "orders"
        return values


def recompute(orders: Iterable[Order], categories: Mapping[str, str]) -> Aggregates:
    """The aggregates of these orders, from nothing."""
    aggregates = Aggregates()
    for order in orders:
        aggregates = aggregates.with_order(order, categories)
    return aggregates


class BrokenAggregates(ValueError):
    """A users item whose order aggregates are not numbers and dates: it breaks the data contract."""


def aggregates_of(item: Mapping[str, Any]) -> Aggregates:
    """The aggregates a users item holds now. An item an upstream writer maintains (orderCount and
    averageOrderValue only, the original system's way) gives its total as count x average, so new orders add to
    what it said. BrokenAggregates names the attribute that is not what the data contract says."""
    name = "orderCount"
    try:
        count = int(Decimal(str(item.get(name) or 0)))
        name = "totalSpent" if item.get("totalSpent") is not None else "averageOrderValue"
        total = Decimal(str(item.get("totalSpent") or Decimal(str(item.get("averageOrderValue") or 0)) * count))
        name = "firstOrderDate"
        first = parse_instant(item["firstOrderDate"]) if item.get("firstOrderDate") else None
        name = "lastOrderDate"
        last = parse_instant(item["lastOrderDate"]) if item.get("lastOrderDate") else None
        if first is None and count:
            first = last  # an upstream writer's client: their first order was no later than their last
        name = "categoryCounts"
        counts = {str(category): int(value) for category, value in (item.get("categoryCounts") or {}).items()}
    except (ArithmeticError, ValueError, TypeError, AttributeError) as exc:
        raise BrokenAggregates(f"{name} is {item.get(name)!r}") from exc
    if count < 0 or not total.is_finite() or total < 0:
        raise BrokenAggregates(f"orderCount {count} and total {total} cannot both be right")
    return Aggregates(
        order_count=count,
        total_spent=total.quantize(Decimal("0.01")),
        first_order_date=first,
        last_order_date=last,
        category_counts=counts,
    )


def derives_categories(item: Mapping[str, Any]) -> bool:
    """Whether preferredCategories follow the orders: unless the shop set them (present, not marked as derived)."""
    return not item.get("preferredCategories") or item.get("preferredCategoriesFrom") == "orders"
