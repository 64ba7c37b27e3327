"""The one clock every function reads time through, and the one timestamp format the system writes.

Tests inject a fixed clock (tests/support/clock.py); production uses the system clock. The local mode simulates
time passing with a shifted clock: every function reads the same offset file (CLOCK_OFFSET_FILE), so `make rescore
NOW=…` moves the time of the sweep, the email processor's cooldown and the API alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

TimeLeft = Callable[[], float]  # seconds left in the current invocation


def unlimited() -> float:
    """A TimeLeft for work that runs outside an invocation (tests, scripts)."""
    return math.inf


class InvocationContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def time_left_in(context: InvocationContext) -> TimeLeft:
    """The seconds left in a Lambda invocation, as a TimeLeft."""
    return lambda: context.get_remaining_time_in_millis() / 1000


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """The system clock moved by the number of seconds in a file (absent or empty: not moved). Read again whenever
    the file changes (one stat a call), so a shift written by one process holds in every other from then on."""

    def __init__(self, offset_file: Path) -> None:
        self.offset_file = offset_file
        self._offset = timedelta(0)
        self._version: tuple[int, int, int] | None = None  # the file's (inode, mtime, size) when last read

    def now(self) -> datetime:
        try:
            status = self.offset_file.stat()
            version: tuple[int, int, int] | None = (status.st_ino, status.st_mtime_ns, status.st_size)
        except FileNotFoundError:
            version = None
        if version != self._version:  # absent from the start: never read, the offset stays zero
            self._offset, self._version = read_offset(self.offset_file), version
        return datetime.now(UTC) + self._offset


def read_offset(offset_file: Path) -> timedelta:
    try:
        text = offset_file.read_text().strip()
    except FileNotFoundError:
        return timedelta(0)
    return timedelta(seconds=float(text)) if text else timedelta(0)


def clock_from_environment() -> Clock:
    """The functions' clock: the system's, or in the local mode the shifted one (CLOCK_OFFSET_FILE)."""
    offset_file = os.environ.get("CLOCK_OFFSET_FILE")
    return ShiftedClock(Path(offset_file)) if offset_file else SystemClock()


def as_utc(instant: datetime) -> datetime:
    """A naive datetime is taken to be UTC (the original system wrote UTC without always saying so).

    Raises ValueError (not OverflowError) for an instant that has no UTC equivalent, such as year 1 at +01:00, so
    validation reports it as bad input.
    """
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{instant.isoformat()} is out of range in UTC") from exc


def format_instant(instant: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the original system wrote: 2025-03-21T15:01:00.000Z.

    One fixed width, so stored timestamps compare correctly as strings (DynamoDB conditions and sort keys).
    """
    utc = as_utc(instant)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (Z, an offset, or naive UTC); raises ValueError naming the text."""
    try:
        return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from exc
