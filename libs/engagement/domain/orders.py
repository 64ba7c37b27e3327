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
CENT = Decimal("0.01")
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
    if value != value.quantize(Decimal("0.001")):
        raise ValueError("has more than three decimal places")
    return value


# ISO 4217's minor units where they are not 2 (cents): currencies without (JPY) and with thousandths (KWD).
_WHOLE, _THOUSANDTHS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF", "BHD IQD JOD KWD LYD OMR TND"
MINOR_UNITS = {**dict.fromkeys(_WHOLE.split(), 0), **dict.fromkeys(_THOUSANDTHS.split(), 3)}


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount: 0.01 (USD), 1 (JPY), 0.001 (KWD)."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def fits_currency(amount: Decimal, currency: str) -> bool:
    """Whether the amount has no more decimals than the currency's minor unit allows (JPY 0, USD 2, KWD 3)."""
    return amount == amount.quantize(minor_unit(currency))


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

    @property
    def product_ids(self) -> frozenset[str]:
        return frozenset(line.product_id for line in self.line_items)

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
    if not fits_currency(given.amount, currency):
        raise OrderRefused(
            "amount", f"{given.amount} has more decimals than {currency} has ({MINOR_UNITS.get(currency, 2)})"
        )
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
class Baseline:
    """The orders an upstream writer counted on the client that the orders table does not hold: where the orders
    recorded here add on, and what a recount from the table starts from."""

    order_count: int = 0
    total_spent: Decimal = Decimal(0)
    first_order_date: datetime | None = None
    last_order_date: datetime | None = None

    def attribute(self) -> dict[str, Any] | None:
        if not self.order_count:
            return None
        return {"orderCount": self.order_count, "totalSpent": self.total_spent,
                "firstOrderDate": format_instant(self.first_order_date) if self.first_order_date else None,
                "lastOrderDate": format_instant(self.last_order_date) if self.last_order_date else None}  # fmt: skip


@dataclass(frozen=True)
class Aggregates:
    """What a client's item says about their orders: the baseline (an upstream writer's), then every order recorded
    here."""

    order_count: int = 0
    total_spent: Decimal = Decimal(0)
    first_order_date: datetime | None = None
    last_order_date: datetime | None = None
    category_counts: Mapping[str, int] = field(default_factory=dict)
    baseline: Baseline = field(default_factory=Baseline)

    @classmethod
    def starting_from(cls, baseline: Baseline) -> Aggregates:
        return cls(baseline.order_count, baseline.total_spent, baseline.first_order_date, baseline.last_order_date,
                   {}, baseline)  # fmt: skip

    @property
    def average_order_value(self) -> Decimal:
        if not self.order_count:
            return Decimal(0)
        return (self.total_spent / self.order_count).quantize(CENT)

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
            "orderBaseline": self.baseline.attribute(),
            "ordersCounted": self.order_count,  # ours: an orderCount that differs was written upstream since
        }
        if derive_categories and self.category_counts:
            values["preferredCategories"] = self.preferred_categories
            values["preferredCategoriesFrom"] = "orders"
        return values


def recompute(orders: Iterable[Order], categories: Mapping[str, str], baseline: Baseline | None = None) -> Aggregates:
    """The aggregates of these orders, from the baseline (none: from nothing)."""
    aggregates = Aggregates.starting_from(baseline or Baseline())
    for order in orders:
        aggregates = aggregates.with_order(order, categories)
    return aggregates


class BrokenAggregates(ValueError):
    """A users item whose order aggregates are not numbers and dates: it breaks the data contract."""


def aggregates_of(item: Mapping[str, Any]) -> Aggregates:
    """The aggregates a users item holds now, with its baseline. BrokenAggregates names an attribute that is not
    what the data contract says.

    - Never written here (no ordersCounted): an upstream writer's client (orderCount and averageOrderValue only,
      the original system's way); its total is count x average, and all of it is the baseline.
    - Written here last (orderCount is the ordersCounted we wrote, averageOrderValue agrees with totalSpent): as
      stored.
    - Written upstream since (the original system's writer changed orderCount or averageOrderValue): the upstream
      figures win, and the baseline becomes them less the orders recorded here, so new orders, and a recount from
      the orders table, add to what upstream says."""
    name = "orderCount"
    try:
        count = int(Decimal(str(item.get(name) or 0)))
        name = "averageOrderValue"
        average = Decimal(str(item.get(name) or 0))
        name = "totalSpent"
        total = Decimal(str(item[name])) if item.get(name) is not None else None
        name = "firstOrderDate"
        first = parse_instant(item[name]) if item.get(name) else None
        name = "lastOrderDate"
        last = parse_instant(item[name]) if item.get(name) else None
        name = "categoryCounts"
        counts = {str(category): int(value) for category, value in (item.get(name) or {}).items()}
        name = "ordersCounted"
        counted = int(Decimal(str(item[name]))) if item.get(name) is not None else None
        name = "orderBaseline"
        baseline = _baseline(item.get(name) or {})
    except (ArithmeticError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise BrokenAggregates(f"{name} is {item.get(name)!r}") from exc
    if count < 0 or average < 0 or not average.is_finite() or (total is not None and not total.is_finite()):
        raise BrokenAggregates(f"orderCount {count} and averageOrderValue {average} cannot both be right")
    first = first or (last if count else None)  # upstream's first order was no later than their last
    upstream_total = (average * count).quantize(CENT)
    if counted is None:
        upstream = Baseline(count, upstream_total, first, last)
        return Aggregates(count, upstream_total, first, last, counts, upstream)
    if total is not None and count == counted and average == (total / count if count else Decimal(0)).quantize(CENT):
        return Aggregates(count, total, first, last, counts, baseline)
    counted_here, spent_here = counted - baseline.order_count, (total or Decimal(0)) - baseline.total_spent
    rebased = Baseline(max(0, count - counted_here), max(Decimal(0), upstream_total - spent_here), first, last)
    return Aggregates(count, upstream_total, first, last, counts, rebased)


def _baseline(stored: Mapping[str, Any]) -> Baseline:
    return Baseline(
        order_count=int(Decimal(str(stored.get("orderCount") or 0))),
        total_spent=Decimal(str(stored.get("totalSpent") or 0)),
        first_order_date=parse_instant(stored["firstOrderDate"]) if stored.get("firstOrderDate") else None,
        last_order_date=parse_instant(stored["lastOrderDate"]) if stored.get("lastOrderDate") else None,
    )


def derives_categories(item: Mapping[str, Any]) -> bool:
    """Whether preferredCategories follow the orders: unless the shop set them (present, not marked as derived)."""
    return not item.get("preferredCategories") or item.get("preferredCategoriesFrom") == "orders"
