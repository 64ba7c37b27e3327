"""From a change to a client's item to the event the rest of the system hears about, and back.

Only changes to the facts make events. Everything the system writes itself (lastEmailDate, the computed score,
timestamps) is not a fact, so those writes never loop back into the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engagement.clock import parse_instant
from engagement.domain.churn_model import ChurnModel
from engagement.domain.jsontext import json_object
from engagement.domain.models import ENVELOPE_VERSION, Client, EngagementEvent, EventType, Signal
from engagement.domain.scoring import score_client
from engagement.errors import InvalidRecord

M = TypeVar("M", bound=BaseModel)

FACT_ATTRIBUTES: tuple[str, ...] = (
    "email",
    "name",
    "lastOrderDate",
    "orderCount",
    "averageOrderValue",
    "preferredCategories",
    "engagementScore",
    "optedOut",
    "timezone",
)

# What the system writes on a client's item: never a fact, so writing it makes no event. An upstream writer that
# puts the whole item without them erases them; the stream processor puts back what such a change erased.
SYSTEM_ATTRIBUTES: tuple[str, ...] = (
    "computedScore",
    "band",
    "scoredAt",
    "lastEmailDate",
    "lastEmailId",
    "rescoredOn",
    "winbackLapse",
    "winbackAttempts",
    "optedOutAt",
)

_EVENT_TYPES = {
    "INSERT": EventType.CLIENT_CREATED,
    "MODIFY": EventType.CLIENT_UPDATED,
    "REMOVE": EventType.CLIENT_DELETED,
}


def changed_facts(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> tuple[str, ...]:
    old, new = old or {}, new or {}
    return tuple(name for name in FACT_ATTRIBUTES if old.get(name) != new.get(name))


def erased_system_attributes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, Any]:
    """The system's attributes the old image had and the new one lacks (both images present: a modification)."""
    if not old or not new:
        return {}
    return {name: old[name] for name in SYSTEM_ATTRIBUTES if name in old and name not in new}


def _validated(model: type[M], data: Any, subject: str) -> M:
    """data as a model, or InvalidRecord naming every bad attribute."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRecord.from_validation(subject, exc) from exc
    except (TypeError, ValueError, OverflowError) as exc:  # what validation itself did not wrap
        raise InvalidRecord(f"invalid {subject}: {exc}", None) from exc


def client_from_item(item: Mapping[str, Any]) -> Client:
    """A users-table item (deserialised) as a Client."""
    return _validated(Client, item, "client item")


def event_from_change(
    *,
    event_name: str,
    event_id: str,
    occurred_at: datetime,
    old_image: Mapping[str, Any] | None,
    new_image: Mapping[str, Any] | None,
    now: datetime,
    model: ChurnModel | None = None,
) -> EngagementEvent | None:
    """The event a stream record means, scored (with the churn model when there is one), or None when it changed no
    fact (a write of the system's own)."""
    event_type = _EVENT_TYPES.get(event_name)
    if event_type is None:
        raise InvalidRecord(f"eventName {event_name!r} is unknown (expected INSERT, MODIFY or REMOVE)", "eventName")
    image = old_image if event_type is EventType.CLIENT_DELETED else new_image
    if not image:
        side = "OldImage" if event_type is EventType.CLIENT_DELETED else "NewImage"
        raise InvalidRecord(f"{event_name} record has no {side} (the stream must be NEW_AND_OLD_IMAGES)", side)
    if event_type is EventType.CLIENT_UPDATED:
        changed = changed_facts(old_image, new_image)
        if not changed:
            return None
    else:
        changed = tuple(name for name in FACT_ATTRIBUTES if name in image)
    client = client_from_item(image)
    return EngagementEvent(
        id=event_id,
        type=event_type,
        occurred_at=occurred_at,
        client=client,
        score=score_client(client, now, model),
        changed=changed,
        signals=_signals(event_type, old_image, new_image),
    )


def _signals(event_type: EventType, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> tuple[Signal, ...]:
    if event_type is EventType.CLIENT_DELETED:
        return (Signal.DELETED,)
    found = []
    old, new = old or {}, new or {}
    try:
        # orderCount rose. When the orders table counted it (ordersCounted), only a new latest order is a signal:
        # an older order recorded late (an import of the history, a backdated one) converts no email sent since.
        counted_here = new.get("ordersCounted") is not None and new.get("ordersCounted") == new.get("orderCount")
        if (
            event_type is EventType.CLIENT_UPDATED
            and float(new.get("orderCount") or 0) > float(old.get("orderCount") or 0)
            and (not counted_here or _later(new.get("lastOrderDate"), old.get("lastOrderDate")))
        ):
            found.append(Signal.ORDER_PLACED)
    except (TypeError, ValueError):
        pass  # an unreadable count was already refused by validation
    if new.get("optedOut") is True and old.get("optedOut") is not True:
        found.append(Signal.OPTED_OUT)
    return tuple(found)


def _later(new: Any, old: Any) -> bool:
    """Whether the new instant is after the old one (or the old one is absent)."""
    if not new:
        return False
    try:
        return old is None or parse_instant(str(new)) > parse_instant(str(old))
    except ValueError:
        return False


def encode_event(event: EngagementEvent) -> str:
    return event.model_dump_json(by_alias=True, exclude_none=True)


def message_attributes(event: EngagementEvent) -> dict[str, dict[str, str]]:
    """The SNS message attributes subscriptions filter on."""
    attributes = {
        "eventType": {"DataType": "String", "StringValue": event.type.value},
        "band": {"DataType": "String", "StringValue": event.score.band.value},
    }
    if event.signals:
        attributes["signals"] = {
            "DataType": "String.Array",
            "StringValue": json.dumps([s.value for s in event.signals]),
        }
    return attributes


def decode_event(body: str) -> EngagementEvent:
    """An SQS body (SNS raw delivery) as an event; InvalidRecord says what is wrong with it."""
    payload = json_object(body, "message body")
    if payload.get("version") != ENVELOPE_VERSION:
        raise InvalidRecord(
            f"unsupported envelope version {payload.get('version')!r} (this processor reads {ENVELOPE_VERSION})",
            "version",
        )
    return _validated(EngagementEvent, payload, "event envelope")
