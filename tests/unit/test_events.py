from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.domain.events import changed_facts, decode_event, encode_event, event_from_change, message_attributes
from engagement.domain.models import Band, EventType
from engagement.errors import InvalidRecord
from tests.support.events import client_values

NOW = datetime(2026, 11, 28, tzinfo=UTC)
WHEN = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def image(**overrides: object) -> dict[str, object]:
    values = client_values(**overrides)
    return {k: Decimal(str(v)) if isinstance(v, int | float) else v for k, v in values.items()}


def change(event_name: str, old: dict[str, object] | None, new: dict[str, object] | None):  # type: ignore[no-untyped-def]
    return event_from_change(
        event_name=event_name, event_id="evt-1", occurred_at=WHEN, old_image=old, new_image=new, now=NOW
    )


def test_insert_makes_a_created_event_with_the_score() -> None:
    event = change("INSERT", None, image(lastOrderDate="2025-01-01T00:00:00.000Z"))
    assert event is not None
    assert (event.type, event.id, event.occurred_at) == (EventType.CLIENT_CREATED, "evt-1", WHEN)
    assert (event.score.value, event.score.band) == (27, Band.AT_RISK)  # 23 months without an order
    assert "orderCount" in event.changed


def test_a_change_only_to_system_attributes_makes_no_event() -> None:
    before = image()
    after = {
        **before,
        "lastEmailDate": "2026-11-28T00:00:00.000Z",
        "computedScore": Decimal(30),
        "band": "at_risk",
        "scoredAt": "2026-11-28T00:00:00.000Z",
        "updatedAt": "2026-11-28T00:00:00.000Z",
        "lastEmailId": "e-1",
    }
    assert change("MODIFY", before, after) is None


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("email", "new@example.com"), ("name", "Ada King"), ("lastOrderDate", "2026-11-01T00:00:00.000Z"),
     ("orderCount", Decimal(5)), ("averageOrderValue", Decimal(81)), ("preferredCategories", ["shoes"]),
     ("engagementScore", Decimal(20)), ("optedOut", True), ("timezone", "Europe/Paris")],
)  # fmt: skip
def test_a_change_to_any_fact_makes_an_updated_event(attribute: str, value: object) -> None:
    before = image()
    event = change("MODIFY", before, {**before, attribute: value})
    assert event is not None
    assert event.type is EventType.CLIENT_UPDATED
    assert event.changed == (attribute,)


def test_remove_makes_a_deleted_event_from_the_old_image() -> None:
    event = change("REMOVE", image(userId="gone"), None)
    assert event is not None
    assert (event.type, event.client.user_id) == (EventType.CLIENT_DELETED, "gone")


@pytest.mark.parametrize(
    ("item", "field"),
    [({"email": "x@example.com"}, "userId"), ({"userId": "u-1"}, "email"), ({"userId": "u", "email": "not-an-email"},
     "email"), ({"userId": "u", "email": "u@example.com", "orderCount": "many"}, "orderCount"),
     ({"userId": "u", "email": "u@example.com", "lastOrderDate": "last tuesday"}, "lastOrderDate"),
     ({"userId": "u", "email": "u@example.com", "engagementScore": Decimal(140)}, "engagementScore"),
     ({"userId": "u", "email": "u@example.com", "orderCount": Decimal("2.5")}, "orderCount"),
     ({"userId": "u", "email": "u@example.com", "lastOrderDate": "0001-01-01T00:30:00+01:00"}, "lastOrderDate"),
     ({"userId": "u", "email": "u@example.com", "createdAt": "9999-12-31T23:30:00-01:00"}, "createdAt")],
)  # fmt: skip
def test_an_invalid_item_names_the_field(item: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRecord) as raised:
        change("INSERT", None, item)
    assert raised.value.field == field
    assert field in raised.value.reason


def test_an_unknown_event_name_is_invalid() -> None:
    with pytest.raises(InvalidRecord, match="eventName 'UPSERT' is unknown") as raised:
        change("UPSERT", None, image())
    assert raised.value.field == "eventName"


def test_a_record_without_the_image_it_needs_is_invalid() -> None:
    with pytest.raises(InvalidRecord, match="no NewImage"):
        change("INSERT", None, None)


def test_the_envelope_round_trips_and_carries_its_filter_attributes() -> None:
    event = change("INSERT", None, image(engagementScore=Decimal(30)))
    assert event is not None
    body = encode_event(event)
    payload = json.loads(body)
    assert set(payload) >= {"version", "id", "type", "occurredAt", "client", "score"}
    assert payload["version"] == 1
    assert payload["occurredAt"] == "2026-11-28T09:30:00.000Z"
    assert decode_event(body) == event
    assert message_attributes(event) == {
        "eventType": {"DataType": "String", "StringValue": "client.created"},
        "band": {"DataType": "String", "StringValue": "at_risk"},
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [("not json", "body", "not JSON"), ("[1, 2]", "body", "not a JSON object"),
     ('{"version": 2, "id": "x"}', "version", "unsupported envelope version 2"),
     ('{"id": "x"}', "version", "unsupported envelope version None"),
     ('{"version": 1, "id": "x", "type": "client.exploded"}', "type", "type")],
)  # fmt: skip
def test_a_bad_message_body_says_what_is_wrong(body: str, field: str, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message) as raised:
        decode_event(body)
    assert raised.value.field == field


def test_an_operators_request_travels_with_its_own_event_type_and_only_with_it() -> None:
    event = change("INSERT", None, image(engagementScore=Decimal(30)))
    assert event is not None
    payload = json.loads(encode_event(event))
    with pytest.raises(InvalidRecord, match="an operator's request, and only it"):
        decode_event(json.dumps(payload | {"type": "client.winback_requested"}))  # no request: dead-lettered
    request = {"requestId": "r-1", "requestedBy": "ana", "overrides": ["cooldown"]}
    with pytest.raises(InvalidRecord, match="an operator's request, and only it"):
        decode_event(json.dumps(payload | {"request": request}))  # a request on a stream event
    asked = decode_event(json.dumps(payload | {"type": "client.winback_requested", "request": request}))
    assert asked.request is not None
    assert (asked.request.requested_by, [o.value for o in asked.request.overrides]) == ("ana", ["cooldown"])


@given(
    st.dictionaries(st.sampled_from(["email", "name", "orderCount", "lastEmailDate", "band"]), st.integers()),
    st.dictionaries(st.sampled_from(["email", "name", "orderCount", "lastEmailDate", "band"]), st.integers()),
)
def test_changed_facts_never_lists_system_attributes(old: dict[str, int], new: dict[str, int]) -> None:
    changed = changed_facts(old, new)
    assert not {"lastEmailDate", "band"} & set(changed)
    assert set(changed) == {k for k in ("email", "name", "orderCount") if old.get(k) != new.get(k)}


attribute_values = st.one_of(
    st.none(), st.booleans(), st.text(max_size=30), st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.integers(min_value=-(10**30), max_value=10**30), st.lists(st.text(max_size=5), max_size=3),
    st.sampled_from(["2025-03-21T15:01:00.000Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-12:00", "x@y.z"]),
)  # fmt: skip
images = st.dictionaries(
    st.sampled_from(["userId", "email", "name", "lastOrderDate", "orderCount", "averageOrderValue",
                     "preferredCategories", "createdAt", "engagementScore", "optedOut", "timezone", "lastEmailDate"]),
    attribute_values,
)  # fmt: skip


@given(st.sampled_from(["INSERT", "MODIFY", "REMOVE", "UPSERT", ""]), st.none() | images, st.none() | images)
def test_any_image_is_an_event_nothing_or_invalid_never_a_crash(
    event_name: str, old: dict[str, object] | None, new: dict[str, object] | None
) -> None:
    with contextlib.suppress(InvalidRecord):
        change(event_name, old, new)


@given(
    st.text(max_size=200)
    | st.builds(lambda d: json.dumps(d, default=str), st.dictionaries(st.text(max_size=8), attribute_values))
)
def test_any_message_body_is_an_event_or_invalid_never_a_crash(body: str) -> None:
    with contextlib.suppress(InvalidRecord):
        decode_event(body)
