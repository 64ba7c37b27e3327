"""Which products a client's win-back email may show, and why: rules a person can read, from the catalog and the
orders. The LLM only ever chooses among these (engagement.writer); it never supplies a product.

A candidate is in stock, in one of the client's categories (those they bought from, then those they prefer), and
not bought by them within the last `recent_days`. Candidates are ranked by how often clients who bought what this
client bought also bought it (co-purchase counts over the orders), then by how many orders had it in the last 30
days (recent popularity), then by product id (a fixed order). At most `per_category` come from one category, so
the picks are spread across the client's categories, and at most `limit` in all. Each carries the reason it was
picked, in words: "bought with the Linen trousers you ordered in March", "best seller in tops this month", or "in
tops, which you buy".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from engagement.domain.catalog import Product
from engagement.domain.orders import Order

POPULAR_DAYS = 30
RECENT_DAYS = 90
MAX_CANDIDATES = 6
PER_CATEGORY = 2


@dataclass(frozen=True)
class Candidate:
    product: Product
    rank: int  # 1 is the best
    reason: str
    co_purchases: int
    recent_orders: int


class Purchase(Protocol):
    """What the counts need of an order: an Order, or a Bought read from a scan."""

    @property
    def user_id(self) -> str: ...
    @property
    def ordered_at(self) -> datetime: ...
    @property
    def product_ids(self) -> frozenset[str]: ...


class Bought(NamedTuple):
    user_id: str
    ordered_at: datetime
    product_ids: frozenset[str]


def co_purchase_counts(orders: Iterable[Purchase]) -> dict[str, Counter[str]]:
    """For each product, how many clients who bought it also bought each other product (any of their orders)."""
    bought_by: dict[str, set[str]] = defaultdict(set)
    for order in orders:
        bought_by[order.user_id].update(order.product_ids)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for products in bought_by.values():
        for product in products:
            counts[product].update(other for other in products if other != product)
    return dict(counts)


def recent_popularity(orders: Iterable[Purchase], now: datetime, days: int = POPULAR_DAYS) -> Counter[str]:
    """Orders that had each product in the last `days`."""
    since = now - timedelta(days=days)
    return Counter(product for order in orders if since <= order.ordered_at <= now for product in order.product_ids)


def candidates(
    *,
    history: Sequence[Order],
    preferred_categories: Sequence[str],
    catalog: Iterable[Product],
    co_purchases: Mapping[str, Mapping[str, int]],
    popularity: Mapping[str, int],
    now: datetime,
    recent_days: int = RECENT_DAYS,
    limit: int = MAX_CANDIDATES,
    per_category: int = PER_CATEGORY,
) -> list[Candidate]:
    """The client's candidates, best first, each with its reason."""
    products = {product.product_id: product for product in catalog}
    newest_first = sorted(history, key=lambda order: order.ordered_at, reverse=True)
    bought_when: dict[str, datetime] = {}
    for order in newest_first:
        for line in order.line_items:
            bought_when.setdefault(line.product_id, order.ordered_at)
    bought_categories = [products[p].category for p in bought_when if p in products]
    categories = list(dict.fromkeys([*bought_categories, *preferred_categories]))
    recent_cutoff = now - timedelta(days=recent_days)

    def eligible(product: Product) -> bool:
        bought = bought_when.get(product.product_id)
        return product.in_stock and product.category in categories and (bought is None or bought < recent_cutoff)

    ranked = []
    for product in filter(eligible, products.values()):
        # the bought product that most clients bought it with: the reason's "bought with ..."
        with_counts = [(co_purchases.get(bought, {}).get(product.product_id, 0), bought) for bought in bought_when]
        together, because_of = max(with_counts, default=(0, ""), key=lambda pair: (pair[0], pair[1]))
        total = sum(count for count, _ in with_counts)
        ranked.append((total, popularity.get(product.product_id, 0), product, together, because_of))
    ranked.sort(key=lambda entry: (-entry[0], -entry[1], entry[2].product_id))

    chosen: list[Candidate] = []
    per: Counter[str] = Counter()
    for total, recent, product, together, because_of in ranked:
        if per[product.category] >= per_category:
            continue
        per[product.category] += 1
        reason = _reason(product, together, because_of, recent, products, bought_when, bought_categories, now)
        chosen.append(Candidate(product, len(chosen) + 1, reason, total, recent))
        if len(chosen) == limit:
            break
    return chosen


def _reason(
    product: Product,
    together: int,
    because_of: str,
    recent: int,
    products: Mapping[str, Product],
    bought_when: Mapping[str, datetime],
    bought_categories: Sequence[str],
    now: datetime,
) -> str:
    if together > 0:
        title = products[because_of].title if because_of in products else because_of
        when = bought_when[because_of]
        month = f"{when:%B}" if now - when < timedelta(days=300) else f"{when:%B %Y}"
        return f"bought with the {title} you ordered in {month}"
    if recent > 0:
        return f"best seller in {product.category} this month"
    why = "which you buy" if product.category in bought_categories else "which you like"
    return f"in {product.category}, {why}"
