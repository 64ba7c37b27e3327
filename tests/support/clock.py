"""A clock that stays where a test puts it."""

from __future__ import annotations

from datetime import datetime, timedelta

from engagement.clock import as_utc


class FixedClock:
    """A clock that stays where it is put: for tests and simulations."""

    def __init__(self, instant: datetime) -> None:
        self._instant = as_utc(instant)

    def now(self) -> datetime:
        return self._instant

    def set(self, instant: datetime) -> None:
        self._instant = as_utc(instant)

    def advance(self, delta: timedelta) -> None:
        self._instant += delta
