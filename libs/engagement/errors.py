"""Domain exceptions. Adapters translate AWS errors into these; handlers decide what each one means."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

Location = tuple[int | str, ...]


def dotted(location: Location) -> str:
    return ".".join(str(part) for part in location)


def validation_problems(
    error: ValidationError, *, where: str = "", name: Callable[[Location], str] = dotted
) -> list[tuple[str, str]]:
    """Each of pydantic's complaints as (field, message): the one place its errors are read. where: the field named
    when an error is about the whole input; name: the caller's name for a location (a request's camelCase)."""
    return [(name(detail["loc"]) or where, str(detail["msg"])) for detail in error.errors(include_url=False)]


def describe(problems: list[tuple[str, str]]) -> str:
    return "; ".join(f"{field}: {message}" for field, message in problems)


class InvalidRecord(Exception):
    """Input that can never succeed, however often it is retried: it goes to a dead-letter queue at once."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field

    @classmethod
    def from_validation(cls, subject: str, error: ValidationError) -> InvalidRecord:
        """Name every offending field, in the attribute names the sender used."""
        problems = validation_problems(error, where=subject)
        first_field = dotted(error.errors()[0]["loc"]) or None
        return cls(f"invalid {subject}: " + describe(problems), field=first_field)


class TransientFailure(Exception):
    """An AWS call that may succeed if retried (throttling, a timeout, a 5xx)."""


class Refused(Exception):
    """AWS refused a request for good (not throttling, not a failed condition): say, an item at the size limit."""


class NotFound(Exception):
    """The thing asked for does not exist."""


class ConfigurationError(Exception):
    """A function's environment is missing or malformed: the cold start fails with this message."""


class Conflict(Exception):
    """The thing changed or exists already: the request made sense a moment ago, not now. reason: a word a program
    can act on (say, "cooldown"), besides the message."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidRequest(Exception):
    """What a caller sent makes no sense (beyond its shape): each problem is (field, message)."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        super().__init__(describe(list(problems)))
        self.problems = problems
