"""How the API shows clients, emails and pages: JSON-ready dicts in the wire's camelCase."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from engagement.adapters.store.pagination import Page
from engagement.clock import format_instant
from engagement.domain.catalog import Product
from engagement.domain.churn_model import ChurnModel
from engagement.domain.models import Band, Client, DecisionRecord, Email
from engagement.domain.orders import Order
from engagement.domain.scoring import score_client
from engagement.errors import describe, validation_problems

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(_plain(inner) for inner in value)
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    if isinstance(value, Mapping):
        return {key: _plain(inner) for key, inner in value.items()}
    return value


def client_summary(
    item: Mapping[str, Any], now: datetime, model: ChurnModel | None = None, *, breakdown: bool = False
) -> dict[str, Any]:
    """A client as stored, with its score now (value, band, source; and with breakdown, how it was reached: the
    rule's parts, the churn model's rhythm or why it did not judge). An item that breaks the data contract is shown
    as stored, with the problem and no score."""
    try:
        client = Client.model_validate(item)
    except ValidationError as exc:
        return {**_plain(dict(item)), "problem": describe(validation_problems(exc))}
    view = client.model_dump(mode="json", by_alias=True, exclude_none=True)
    view["score"] = score_client(client, now, model).model_dump(
        mode="json", by_alias=True, include=None if breakdown else {"value", "band", "source"}
    )
    return view


def matches_filter(view: Mapping[str, Any], band: Band | None, q: str | None) -> bool:
    """Whether a client's summary is in the band, and its name (or a word of it) or email starts with q."""
    if band is not None and view.get("score", {}).get("band") != band.value:
        return False
    if q is None:
        return True
    wanted = q.strip().lower()
    name = str(view.get("name", "")).lower()
    return str(view.get("email", "")).lower().startswith(wanted) or any(
        part.startswith(wanted) for part in (name, *name.split())
    )


def client_detail(
    item: Mapping[str, Any],
    *,
    now: datetime,
    model: ChurnModel | None,
    recent_decisions: list[DecisionRecord],
    recent_emails: list[Email],
) -> dict[str, Any]:
    """A client with the score's breakdown and a timeline of decisions (one per event) and email steps."""
    view = client_summary(item, now, model, breakdown=True)
    view["timeline"] = timeline(recent_decisions, recent_emails)
    view["recentDecisions"] = [decision.model_dump(mode="json", by_alias=True) for decision in recent_decisions]
    view["recentEmails"] = [email_view(email, with_content=False) for email in recent_emails]
    return view


TIMELINE_DECISION_FIELDS = {"send", "reason", "event_type", "score", "band", "score_source", "email_id", "request"}


def timeline(decisions: list[DecisionRecord], emails: list[Email]) -> list[dict[str, Any]]:
    """What happened to a client, newest first: each event's decision, and each step of each email."""
    entries = [
        {"kind": "decision", **decision.model_dump(mode="json", by_alias=True, include=TIMELINE_DECISION_FIELDS),
         "at": decision.decided_at}
        for decision in decisions
    ] + [
        {"kind": "email", "emailId": email.email_id, "subject": email.subject,
         **step.model_dump(mode="json", by_alias=True, exclude={"at"}), "at": step.at}
        for email in emails
        for step in email.transitions
    ]  # fmt: skip
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return [{**entry, "at": format_instant(entry["at"])} for entry in entries]


def email_view(email: Email, *, with_content: bool = True) -> dict[str, Any]:
    view = email.model_dump(mode="json", by_alias=True, exclude_none=True)
    view["version"] = len(email.transitions)  # what approve, reject and edit may send back (optimistic check)
    for products in ("picks", "candidates"):  # prices as numbers, as the catalog's API shows them
        view[products] = [pick | {"price": _plain(Decimal(pick["price"]))} for pick in view.get(products, [])]
    if not with_content:
        view.pop("content", None)
        view.pop("textContent", None)
    return view


def page_view(page: Page[T], show: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [show(item) for item in page.items], "nextCursor": page.next_cursor}


def order_view(order: Order) -> dict[str, Any]:
    view: dict[str, Any] = _plain(order.model_dump(by_alias=True, exclude_none=True))
    return view | {"orderedAt": format_instant(order.ordered_at), "recordedAt": format_instant(order.recorded_at)}


def product_view(product: Product) -> dict[str, Any]:
    view: dict[str, Any] = _plain(product.model_dump(by_alias=True, exclude_none=True))
    return view | {"updatedAt": format_instant(product.updated_at)}
