"""Keeping the co-purchase counts: the rescoring sweep's coordinator rebuilds them from the orders once a day, before
it queues the day's segments, so the emails the run leads to rank their products by yesterday's orders at worst.

One projected scan of the last year's orders: who bought which products, then for each product the products its
buyers also bought (the KEEP most frequent, with their counts) and the month's best sellers per category. When the
scan runs short of time the counts built from what was read are stored, marked incomplete, and the next run builds
them again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from engagement.adapters.store.co_purchases import CoPurchaseBuild, CoPurchaseRepository, version_of
from engagement.adapters.store.orders import OrderRepository
from engagement.adapters.store.products import ProductRepository
from engagement.clock import TimeLeft, unlimited
from engagement.domain.recommendations import Bought, co_purchase_counts, recent_popularity
from engagement.observability import count, logger

REBUILD_AFTER = timedelta(hours=20)  # a daily sweep that starts a little earlier than yesterday's still rebuilds
LOOKBACK = timedelta(days=365)
KEEP = 20  # per product: the products its buyers bought most often
POPULAR_PER_CATEGORY = 20
SCAN_RESERVE_S = 60.0  # the coordinator stops reading orders with less time than this left: it still has to queue


class CoPurchaseBuilding:
    def __init__(self, *, orders: OrderRepository, products: ProductRepository, store: CoPurchaseRepository) -> None:
        self.orders = orders
        self.products = products
        self.store = store

    def rebuild_if_due(self, now: datetime, time_left: TimeLeft = unlimited) -> CoPurchaseBuild | None:
        latest = self.store.newest()
        if latest is not None and latest.complete and now - latest.built_at < REBUILD_AFTER:
            return None
        return self.rebuild(now, time_left)

    def rebuild(self, now: datetime, time_left: TimeLeft = unlimited) -> CoPurchaseBuild:
        purchases: list[Bought] = []
        complete = True
        for bought in self.orders.purchases(since=now - LOOKBACK):
            purchases.append(bought)
            if len(purchases) % 1000 == 0 and time_left() < SCAN_RESERVE_S:
                complete = False
                break
        counts = co_purchase_counts(purchases)
        rows = {product: dict(others.most_common(KEEP)) for product, others in counts.items() if others}
        recent = recent_popularity(purchases, now)
        categories = self.products.categories_of(recent)
        popular: dict[str, dict[str, int]] = defaultdict(dict)
        for product, orders in sorted(recent.items(), key=lambda pair: (-pair[1], pair[0])):
            category = categories.get(product)
            if category is not None and len(popular[category]) < POPULAR_PER_CATEGORY:
                popular[category][product] = orders
        build = CoPurchaseBuild(version=version_of(now), built_at=now, orders=len(purchases),
                                clients=len({p.user_id for p in purchases}), products=len(rows),
                                popular=dict(popular), complete=complete)  # fmt: skip
        self.store.save(build, rows)
        count("CoPurchaseBuilds")
        logger.info("co-purchase counts built", extra={"version": build.version, "orders": build.orders,
                                                       "products": build.products, "complete": complete})  # fmt: skip
        return build
