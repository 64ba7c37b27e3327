"""Secrets: from the environment in the local mode, from SSM SecureStrings in AWS (through powertools' cache).

Reading through a cache with a maximum age means a rotated value (aws ssm put-parameter --overwrite) is picked up
within minutes, with no redeploy; `refresh=True` fetches at once (after a 401, say). Values are never logged.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

NOT_SET = ("", "unset")  # Terraform creates parameters with the placeholder "unset"


class SecretSource:
    def __init__(self, value: str | None = None, parameter: str | None = None, max_age: int = 300) -> None:
        self._value = value
        self._parameter = parameter
        self._max_age = max_age
        self._fetching = threading.Lock()  # a cold start's threads ask at once: one fetches, the rest read the cache

    @property
    def configured(self) -> bool:
        return self._parameter is not None or (self._value or "").strip() not in NOT_SET

    def get(self, *, refresh: bool = False) -> str | None:
        if self._parameter is None:
            value = self._value
        else:
            from aws_lambda_powertools.utilities import parameters

            with self._fetching:
                value = str(
                    parameters.get_parameter(self._parameter, decrypt=True, max_age=self._max_age, force_fetch=refresh)
                )
        value = (value or "").strip()
        return None if value in NOT_SET else value

    def __repr__(self) -> str:
        return f"SecretSource(parameter={self._parameter!r}, value={'<set>' if self._value else None})"


class RotatingKey:
    """A signing key kept in a SecureString, and the key it replaced, kept in a second one while links it signed
    may still come back: for `overlap` after the current key was written (the parameter's LastModifiedDate).

    Rotating: copy the current value into the previous parameter, then write a new current one (scripts/ops.py
    rotate-unsubscribe-key does both). Both are read through a cache of `max_age` seconds, as SecretSource does.
    """

    def __init__(self, parameter: str, previous_parameter: str | None, overlap: timedelta, max_age: int = 300) -> None:
        self._parameter = parameter
        self._previous_parameter = previous_parameter
        self._overlap = overlap
        self._max_age = max_age
        self._cache: dict[str, tuple[float, str | None, datetime | None]] = {}

    def keys(self, now: datetime) -> tuple[str | None, str | None]:
        """(current, previous): previous is None once the overlap since the current key was written is over."""
        current, written = self._read(self._parameter)
        if self._previous_parameter is None or written is None or now - written >= self._overlap:
            return current, None
        return current, self._read(self._previous_parameter)[0]

    def _read(self, name: str) -> tuple[str | None, datetime | None]:
        cached = self._cache.get(name)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2]
        from engagement.adapters import aws

        parameter = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
        value = str(parameter.get("Value") or "").strip()
        read = (None if value in NOT_SET else value, parameter.get("LastModifiedDate"))
        self._cache[name] = (time.monotonic() + self._max_age, *read)
        return read

    def __repr__(self) -> str:
        return f"RotatingKey(parameter={self._parameter!r}, previous={self._previous_parameter!r})"
