"""Quiet hours: send in the client's own daytime. Pure, time-zone and daylight-saving aware."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict


class SendingWindow(BaseModel):
    """Local wall-clock hours in which email may be sent, [start, end)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    start: time = time(9, 0)
    end: time = time(20, 0)


def is_known_zone(timezone: str) -> bool:
    """Whether quiet hours can apply: an IANA name this runtime's time-zone database knows."""
    return _zone(timezone) is not None


def _zone(timezone: str | None) -> ZoneInfo | None:
    if not timezone:
        return None
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local_to_utc(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time; a time skipped by a clock change means the first instant after."""
    wall = datetime.combine(day.date(), at)
    candidate = wall.replace(tzinfo=zone).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall:
        return candidate
    # The wall time does not exist that day (clocks jumped forward over it): start when the clocks land.
    for minutes in range(1, 181):
        later = (wall + timedelta(minutes=minutes)).replace(tzinfo=zone).astimezone(UTC)
        if later.astimezone(zone).replace(tzinfo=None) == wall + timedelta(minutes=minutes):
            return later
    return candidate


def next_send_time(now: datetime, timezone: str | None, window: SendingWindow) -> datetime:
    """now if the client's local time is inside the window (or the time zone is unknown), else when it next opens."""
    zone = _zone(timezone)
    if zone is None:
        return now
    local = now.astimezone(zone)
    if window.start <= local.time().replace(tzinfo=None) < window.end:
        return now
    for days in range(3):
        opening = _local_to_utc(local + timedelta(days=days), window.start, zone)
        if opening > now:
            return opening
    return now  # unreachable for a sane window; sending now is the safe answer
