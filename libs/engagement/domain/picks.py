"""The products an email shows (its picks) and the ones it could show instead (its candidates), as the email keeps
them: a copy of what the catalog said when they were chosen, with the rank and the reason they were chosen for.
Pure: the catalog is read by the caller.

An email's cards are drawn from its picks only, and its picks only from its candidates: nothing a writer or a
reviewer says can put any other product, price or link in an email.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from engagement.domain.catalog import Product
from engagement.domain.models import ProductPick
from engagement.domain.recommendations import Candidate

MAX_PICKS = 3


def pick_of(candidate: Candidate) -> ProductPick:
    product = candidate.product
    return ProductPick(product_id=product.product_id, title=product.title, url=product.url,
                       image_url=product.image_url, category=product.category, price=product.price,
                       currency=product.currency, rank=candidate.rank, reason=candidate.reason)  # fmt: skip


def as_now(pick: ProductPick, product: Product) -> ProductPick:
    """The pick with the catalog's current title, links and price (its rank and reason stay)."""
    return pick.model_copy(update={"title": product.title, "url": product.url, "image_url": product.image_url,
                                   "price": product.price, "currency": product.currency})  # fmt: skip


class PicksRefused(ValueError):
    """A choice of picks that is not allowed: names what is wrong."""


def chosen(product_ids: Iterable[str], candidates: Sequence[ProductPick]) -> tuple[ProductPick, ...]:
    """The candidates named, in the order named: at most MAX_PICKS, each once, each a candidate; else PicksRefused."""
    ids = list(product_ids)
    by_id = {candidate.product_id: candidate for candidate in candidates}
    if len(ids) > MAX_PICKS:
        raise PicksRefused(f"at most {MAX_PICKS} products, not {len(ids)}")
    if len(set(ids)) != len(ids):
        raise PicksRefused("a product is named twice")
    if unknown := [product_id for product_id in ids if product_id not in by_id]:
        raise PicksRefused(f"not among this email's candidates: {', '.join(map(repr, unknown[:5]))}")
    return tuple(by_id[product_id] for product_id in ids)


def refreshed(
    picks: Sequence[ProductPick], candidates: Sequence[ProductPick], catalog: Mapping[str, Product]
) -> tuple[tuple[ProductPick, ...], list[str]]:
    """The picks as the catalog has them now (catalog: the current products by id, those still in it): a pick gone
    out of stock (or from the catalog) is replaced by the best candidate that is in stock and not shown, or dropped;
    a changed price or title is taken. Returns the new picks and, in words, what changed (nothing: an empty list)."""
    shown = {pick.product_id for pick in picks}
    spare = [c for c in sorted(candidates, key=lambda c: c.rank) if c.product_id not in shown]
    result: list[ProductPick] = []
    changes: list[str] = []
    for pick in picks:
        product = catalog.get(pick.product_id)
        if product is None or not product.in_stock:
            gone = "no longer in the catalog" if product is None else "out of stock"
            replacement = None
            while spare and replacement is None:
                candidate = spare.pop(0)
                current = catalog.get(candidate.product_id)
                if current is not None and current.in_stock:
                    replacement = as_now(candidate, current)
            if replacement is None:
                changes.append(f"{pick.title} ({pick.product_id}) {gone}: dropped")
            else:
                result.append(replacement)
                changes.append(f"{pick.title} ({pick.product_id}) {gone}: replaced by {replacement.title} "
                               f"({replacement.product_id})")  # fmt: skip
            continue
        now = as_now(pick, product)
        if now.price != pick.price or now.currency != pick.currency:
            changes.append(f"price of {pick.title} ({pick.product_id}) {pick.price} {pick.currency} → "
                           f"{now.price} {now.currency}")  # fmt: skip
        elif now != pick:
            changes.append(f"{pick.title} ({pick.product_id}) updated from the catalog")
        result.append(now)
    return tuple(result), changes


def summary(picks: Iterable[ProductPick]) -> str:
    return ", ".join(pick.product_id for pick in picks) or "none"
