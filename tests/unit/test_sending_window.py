from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from engagement.domain.sending_window import SendingWindow, next_send_time

WINDOW = SendingWindow(start=time(9), end=time(20))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("timezone", [None, "", "Not/AZone", "Mars/Olympus_Mons"])
def test_without_a_known_time_zone_the_email_goes_now(timezone: str | None) -> None:
    now = utc(2026, 11, 28, 3)
    assert next_send_time(now, timezone, WINDOW) == now


@pytest.mark.parametrize(
    ("now", "timezone", "expected_local"),
    [
        (utc(2026, 11, 28, 15), "America/New_York", None),  # 10:00 in New York: now
        (utc(2026, 11, 28, 3), "America/New_York", datetime(2026, 11, 28, 9)),  # 22:00 the day before
        (utc(2026, 11, 28, 12), "Asia/Tokyo", datetime(2026, 11, 29, 9)),  # 21:00 in Tokyo: tomorrow morning
        (utc(2026, 11, 28, 20, 30), "Australia/Sydney", datetime(2026, 11, 29, 9)),  # 07:30 in Sydney
        (utc(2026, 11, 28, 19, 59), "Europe/London", None),  # 19:59: still inside
        (utc(2026, 11, 28, 20, 0), "Europe/London", datetime(2026, 11, 29, 9)),  # 20:00: the window is [9, 20)
        (utc(2026, 11, 28, 4), "Asia/Kolkata", None),  # 09:30 at +05:30
    ],
)
def test_outside_the_window_the_email_waits_for_its_local_morning(
    now: datetime, timezone: str, expected_local: datetime | None
) -> None:
    sent = next_send_time(now, timezone, WINDOW)
    if expected_local is None:
        assert sent == now
    else:
        assert sent.astimezone(ZoneInfo(timezone)).replace(tzinfo=None) == expected_local
        assert sent > now


def test_across_the_spring_forward_night_the_window_opens_at_local_nine() -> None:
    # New York, 8 March 2026: 02:00 → 03:00. At 23:00 the evening before (EST, -5) the next 09:00 is EDT (-4).
    sent = next_send_time(utc(2026, 3, 8, 4), "America/New_York", WINDOW)
    assert sent == utc(2026, 3, 8, 13)


def test_across_the_fall_back_night_the_window_opens_at_local_nine() -> None:
    # London, 25 October 2026: 02:00 BST → 01:00 GMT. At 23:30 BST the day before, 09:00 GMT is the opening.
    sent = next_send_time(utc(2026, 10, 24, 22, 30), "Europe/London", WINDOW)
    assert sent == utc(2026, 10, 25, 9)


def test_a_window_that_opens_inside_the_skipped_hour_opens_when_the_clocks_land() -> None:
    early = SendingWindow(start=time(2, 30), end=time(20))
    sent = next_send_time(utc(2026, 3, 8, 5), "America/New_York", early)  # 00:00 EST, spring forward at 02:00
    assert sent == utc(2026, 3, 8, 7)  # 03:00 EDT, the first instant after the skipped 02:30
    assert sent.astimezone(ZoneInfo("America/New_York")).hour == 3


def test_a_window_that_opens_inside_the_repeated_hour_opens_the_first_time() -> None:
    early = SendingWindow(start=time(1, 30), end=time(20))
    sent = next_send_time(utc(2026, 11, 1, 4), "America/New_York", early)  # 00:00 EDT; 01:00-02:00 happens twice
    assert sent == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, the first of the two
