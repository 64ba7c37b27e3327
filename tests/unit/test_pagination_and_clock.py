from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.adapters.store.pagination import InvalidCursor, decode_cursor, encode_cursor
from engagement.clock import format_instant, parse_instant
from engagement.http.auth import BearerTokenAuth


def test_a_cursor_round_trips() -> None:
    key = {"userId": {"S": "u-1"}}
    assert decode_cursor(encode_cursor(key), {"userId"}) == key


@pytest.mark.parametrize(
    "cursor",
    ["zzz", encode_cursor({"password": {"S": "x"}}), encode_cursor({"userId": {"B": "eA=="}}), "eyJ1c2VySWQiOjF9"],
)
def test_a_cursor_this_api_did_not_hand_out_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, {"userId"})


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)))
def test_stored_timestamps_have_one_width_and_sort_as_time_does(instant: datetime) -> None:
    text = format_instant(instant)
    assert len(text) == len("2025-03-21T15:01:00.000Z")
    later = format_instant(instant + timedelta(milliseconds=1))
    assert text < later
    assert abs(parse_instant(text) - instant) < timedelta(milliseconds=1)


def test_parse_accepts_the_original_format_offsets_and_naive_utc() -> None:
    assert parse_instant("2025-03-21T15:01:00.000Z") == datetime(2025, 3, 21, 15, 1, tzinfo=UTC)
    assert parse_instant("2025-03-21T17:01:00+02:00") == datetime(2025, 3, 21, 15, 1, tzinfo=UTC)
    assert parse_instant("2025-03-21T15:01:00").tzinfo is not None
    assert format_instant(datetime(2025, 3, 21, 17, 1, tzinfo=timezone(timedelta(hours=2)))).startswith("2025-03-21T15")
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        parse_instant("yesterday")


@pytest.mark.parametrize(
    ("header", "allowed"),
    [("Bearer right-token-0123456789", True), ("bearer right-token-0123456789", True), (None, False), ("", False),
     ("Bearer wrong-token-0123456789", False), ("Basic right-token-0123456789", False), ("Bearer ", False),
     ("right-token-0123456789", False)],
)  # fmt: skip
def test_bearer_token(header: str | None, allowed: bool) -> None:
    assert BearerTokenAuth(lambda: "right-token-0123456789").is_authorized(header) is allowed
