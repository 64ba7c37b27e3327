"""Wrapped AWS clients that tests build into handlers' services (bootstrap.Clients): real calls go through, with
answers scripted first and every call recorded."""

from __future__ import annotations

import time
from typing import Any


class ScriptedSes:
    """The SES v2 client; send_email answers from a script first (an exception to raise, or None for the real
    send), after a pause if set, and records every request."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[dict[str, Any]] = []
        self.outcomes: list[Exception | None] = []
        self.pause = 0.0

    def answer(self, *outcomes: Exception | None, pause: float = 0.0) -> list[dict[str, Any]]:
        """Script the next sends; returns the list of the requests made from now on."""
        self.outcomes, self.pause = list(outcomes), pause
        self.calls.clear()
        return self.calls

    def send_email(self, **request: Any) -> Any:
        self.calls.append(request)
        time.sleep(self.pause)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return self.real.send_email(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)
