"""Recording orders, from the API, a file or a store's webhook, and keeping each client's aggregates derived from them.

One client's new orders are written with the client's new aggregates in one transaction (at most 99 orders a
write), on the condition that the aggregates are still what they were read as; on a conflict (another order, an
upstream write) the client is read again and the write retried. An order id recorded before counts once: the
transaction refuses it, and the others are written again without it. Orders that break a rule are refused each
with the field and the reason; the others go on.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from engagement.adapters.store.orders import MAX_ORDERS_PER_WRITE, DuplicateOrders, OrderRepository
from engagement.adapters.store.pagination import Page
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock, format_instant, parse_instant
from engagement.domain.orders import (
    Aggregates,
    Baseline,
    BrokenAggregates,
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
from engagement.errors import Conflict, NotFound
from engagement.observability import logger

WRITE_ATTEMPTS = 10
MAX_WRITE_BYTES = 3_000_000  # a transaction holds at most 4 MB: room for the client's item and the encoding
# What a write of new aggregates expects to find unchanged (the optimistic check).
AGGREGATE_ATTRIBUTES = ("orderCount", "averageOrderValue", "totalSpent", "firstOrderDate", "lastOrderDate",
                        "ordersCounted", "preferredCategoriesFrom")  # fmt: skip


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # recorded before (same client and order id): counted once
    REFUSED = "refused"


@dataclass(frozen=True)
class OrderResult:
    outcome: Outcome
    order_id: str | None = None
    order: Order | None = None  # as recorded now (a duplicate's earlier one: OrderService.get)
    field: str | None = None  # for a refusal: the field, and why
    reason: str | None = None


@dataclass(frozen=True)
class Recorded:
    """The client's orders as sent, each with its outcome, and the client's item after them (None if unknown)."""

    results: list[OrderResult]
    client: dict[str, Any] | None


class ProductCategories(Protocol):
    def categories_of(self, product_ids: Iterable[str]) -> dict[str, str]: ...


class OrderService:
    def __init__(
        self,
        *,
        users: UserRepository,
        orders: OrderRepository,
        products: ProductCategories,
        clock: Clock,
        shop_currency: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.users = users
        self.orders = orders
        self.products = products
        self.clock = clock
        self.shop_currency = shop_currency
        self._sleep = sleep

    def record(
        self, user_id: str, given: Sequence[OrderInput], source: OrderSource, *, current: dict[str, Any] | None = None
    ) -> Recorded:
        """Record a client's orders; NotFound if there is no such client (nothing is written). current: the
        client's item as just read (an import reads a chunk's clients at once); a stale one costs a retry."""
        item = current if current is not None else self.users.get_item(user_id)
        if item is None:
            raise NotFound(f"no client {user_id!r}")
        now = self.clock.now()
        since = parse_instant(item["createdAt"]) if isinstance(item.get("createdAt"), str) else None
        results: list[OrderResult | None] = [None] * len(given)
        pending: dict[str, tuple[int, OrderInput, datetime, str]] = {}
        for position, order in enumerate(given):
            order_id = order.order_id or str(uuid.uuid4())
            if order_id in pending:
                results[position] = OrderResult(Outcome.DUPLICATE, order_id)
                continue
            try:
                at, currency = check_order(order, now=now, client_since=since, shop_currency=self.shop_currency)
            except OrderRefused as refused:
                results[position] = OrderResult(Outcome.REFUSED, order_id, field=refused.field, reason=refused.message)
                continue
            pending[order_id] = (position, order, at, currency)
        categories = self.products.categories_of(
            line.product_id for _, order, _, _ in pending.values() for line in order.line_items
        )
        new: list[Order] = []
        for order_id, (_, order, at, currency) in pending.items():
            flags, unknown = flags_for(order, categories)
            new.append(Order(user_id=user_id, order_id=order_id, ordered_at=at, amount=order.amount,
                             currency=currency, line_items=order.line_items, source=source, recorded_at=now,
                             flags=flags, unknown_product_ids=unknown))  # fmt: skip
        for chunk in _writes(new):
            written, duplicates, item = self._write(user_id, chunk, item, categories)
            for stored in written:
                results[pending[stored.order_id][0]] = OrderResult(Outcome.RECORDED, stored.order_id, stored)
            for stored in duplicates:
                results[pending[stored.order_id][0]] = OrderResult(Outcome.DUPLICATE, stored.order_id)
        return Recorded(results=[result for result in results if result is not None], client=item)

    def _write(
        self, user_id: str, orders: list[Order], item: dict[str, Any], categories: Mapping[str, str]
    ) -> tuple[list[Order], list[Order], dict[str, Any]]:
        """Write the orders with the aggregates they make: (written, recorded before, the client's item after)."""
        duplicates: list[Order] = []
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            if not orders:
                return [], duplicates, item
            try:
                aggregates = aggregates_of(item)
            except BrokenAggregates as broken:
                raise Conflict(f"the client's item breaks the data contract ({broken}); fix it first") from broken
            for order in orders:
                aggregates = aggregates.with_order(order, categories)
            changes = aggregates.attributes(derive_categories=derives_categories(item))
            changes["updatedAt"] = format_instant(self.clock.now())
            expected = {name: item.get(name) for name in AGGREGATE_ATTRIBUTES}
            try:
                self.orders.record(orders, self.users.update_action(user_id, changes, expected=expected))
            except DuplicateOrders as found:
                duplicates += [order for order in orders if order.order_id in found.order_ids]
                orders = [order for order in orders if order.order_id not in found.order_ids]
                continue
            except Conflict:
                fresh = self.users.get_item(user_id)
                if fresh is None:
                    raise NotFound(f"no client {user_id!r}") from None
                item = fresh
                self._sleep(random.uniform(0, 0.02 * attempt))  # noqa: S311 - a jitter, not a secret
                continue
            return orders, duplicates, {**item, **{k: v for k, v in changes.items() if v is not None}}
        raise Conflict(f"client {user_id!r} kept changing while its orders were recorded; try again")

    def get(self, user_id: str, order_id: str) -> Order | None:
        return self.orders.get(user_id, order_id)

    def history(self, user_id: str, *, limit: int, cursor: str | None = None) -> Page[Order]:
        return self.orders.for_user(user_id, limit=limit, cursor=cursor)

    def recompute(self, user_id: str) -> bool | None:
        """Derive the client's aggregates from their orders again (the backfill): True if they changed, False if
        they were right, None if the client has no orders in the table (an upstream writer's aggregates stay) or
        no longer exists. A conflicting write is retried. What an upstream writer counted before the client's
        first order here (their baseline) stays counted."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            item = self.users.get_item(user_id)
            orders = list(self.orders.all_for_user(user_id))
            if item is None or not orders:
                return None
            categories = self.products.categories_of(line.product_id for order in orders for line in order.line_items)
            # Counted here before: the upstream part its first order here found (ordersCounted) stays under the
            # table's orders. Never counted here (the table was filled some other way, a bulk load of the history):
            # the table is the whole story.
            baseline = Baseline()
            if item.get("ordersCounted") is not None:
                with suppress(BrokenAggregates):  # a broken item: the table's orders are all there is to go on
                    baseline = aggregates_of(item).baseline
            derived = recompute(sorted(orders, key=lambda order: order.ordered_at), categories, baseline)
            derive = derives_categories(item)
            if _agrees(item, derived, derive_categories=derive):
                return False
            changes = derived.attributes(derive_categories=derive)
            expected = {name: item.get(name) for name in AGGREGATE_ATTRIBUTES}
            try:
                if self.users.update(user_id, changes | {"updatedAt": format_instant(self.clock.now())},
                                     expected=expected) is None:  # fmt: skip
                    return None
            except Conflict:
                self._sleep(random.uniform(0, 0.02 * attempt))  # noqa: S311 - a jitter, not a secret
                continue
            logger.info("aggregates recomputed", extra={"userId": user_id, "orders": len(orders)})
            return True
        raise Conflict(f"client {user_id!r} kept changing while its aggregates were recomputed")


def _writes(orders: list[Order]) -> Iterator[list[Order]]:
    """The orders in groups one transaction takes: at most 99 (and the client's update), under its 4 MB."""
    group: list[Order] = []
    size = 0
    for order in orders:
        bytes_ = len(order.model_dump_json()) + 200  # names and types on the wire
        if group and (len(group) == MAX_ORDERS_PER_WRITE or size + bytes_ > MAX_WRITE_BYTES):
            yield group
            group, size = [], 0
        group.append(order)
        size += bytes_
    if group:
        yield group


def _agrees(item: Mapping[str, Any], derived: Aggregates, *, derive_categories: bool) -> bool:
    """Whether the item already says what the orders say (then the backfill writes nothing, and no event follows)."""
    try:
        current = aggregates_of(item)
    except BrokenAggregates:
        return False
    average = item.get("averageOrderValue")
    categories_agree = (
        not (derive_categories and derived.category_counts)
        or list(item.get("preferredCategories") or []) == derived.preferred_categories
    )
    return (
        current == derived
        and "totalSpent" in item
        and average is not None
        and Decimal(str(average)) == derived.average_order_value
        and categories_agree
    )
