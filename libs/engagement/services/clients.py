"""What an operator does to clients through the API: add one, change facts, remove one (orders: services.orders).

Writes go to the users table like any upstream write, so the stream scores them and the pipeline reacts: a new
at-risk client gets a draft, a deletion cancels pending drafts.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock, format_instant
from engagement.domain.models import CamelModel, EmailAddress
from engagement.domain.sending_window import is_known_zone
from engagement.errors import Conflict, InvalidRequest, NotFound


class ClientChanges(CamelModel):
    """Facts an operator may set. On a change, null removes engagementScore (the override), timezone or
    lastOrderDate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: EmailAddress | None = None
    name: str | None = Field(default=None, min_length=1, max_length=256)
    last_order_date: AwareDatetime | None = None
    order_count: int | None = Field(default=None, ge=0, le=1_000_000)
    average_order_value: float | None = Field(default=None, ge=0, le=1_000_000)
    preferred_categories: list[str] | None = Field(default=None, max_length=20)
    engagement_score: float | None = Field(default=None, ge=0, le=100)
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("preferred_categories")
    @classmethod
    def _categories(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not 1 <= len(category.strip()) <= 40 for category in value):
            raise ValueError("each category has 1 to 40 characters")
        return value

    @field_validator("average_order_value", "engagement_score")
    @classmethod
    def _storable(cls, value: float | None) -> float | None:
        """Six decimals at most: 1e-300 is 0 here, not a number DynamoDB refuses (magnitudes below 1e-130)."""
        return None if value is None else round(value, 6)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not is_known_zone(value):
            raise ValueError("not an IANA time zone (for example Europe/London)")
        return value


class NewClient(ClientChanges):
    user_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._@:+-]{1,128}$", description="Generated if absent")
    email: EmailAddress
    name: str = Field(min_length=1, max_length=256)
    created_at: AwareDatetime | None = Field(default=None, description="When they became a client; now if absent")


REMOVABLE = frozenset({"engagement_score", "timezone", "last_order_date"})


class ClientService:
    def __init__(
        self,
        *,
        users: UserRepository,
        clock: Clock,
    ) -> None:
        self.users = users
        self.clock = clock

    def create(self, new: NewClient) -> dict[str, Any]:
        now = self.clock.now()
        self._check_dates(new, now)
        user_id = new.user_id or str(uuid.uuid4())
        if new.created_at is not None and new.created_at > now + timedelta(minutes=5):
            raise InvalidRequest(("createdAt", "cannot be in the future"))
        given = {name: value for name, value in self._attributes(new, new.model_fields_set - {"user_id", "created_at"})
                 .items() if value is not None}  # fmt: skip
        joined = format_instant(new.created_at or now)
        item = {**given, "userId": user_id, "createdAt": joined, "updatedAt": format_instant(now)}
        for name in ("orderCount", "averageOrderValue"):
            if item.get(name) is None:
                item[name] = 0
        if not self.users.create(item):
            raise Conflict(f"client {user_id!r} exists already")
        return item

    def change(self, user_id: str, changes: ClientChanges) -> dict[str, Any]:
        given = changes.model_fields_set
        cleared = {name for name in given if getattr(changes, name) is None}
        if refused := cleared - REMOVABLE:
            raise InvalidRequest(*((to_camel(name), "cannot be removed") for name in sorted(refused)))
        if not given:
            raise InvalidRequest(("body", "nothing to change"))
        self._check_dates(changes, self.clock.now())
        attributes = self._attributes(changes, given) | {"updatedAt": format_instant(self.clock.now())}
        if "preferred_categories" in given:
            attributes["preferredCategoriesFrom"] = None  # the shop's choice now: orders no longer derive them
        item = self.users.update(user_id, attributes)
        if item is None:
            raise NotFound(f"no client {user_id!r}")
        return item

    def delete(self, user_id: str) -> None:
        if not self.users.delete(user_id):
            raise NotFound(f"no client {user_id!r}")

    def _check_dates(self, changes: ClientChanges, now: datetime) -> None:
        if changes.last_order_date is not None and changes.last_order_date > now + timedelta(minutes=5):
            raise InvalidRequest(("lastOrderDate", "cannot be in the future"))

    def _attributes(self, changes: ClientChanges, names: set[str]) -> dict[str, Any]:
        values = changes.model_dump(mode="json", by_alias=True, include=names)
        if "last_order_date" in names and changes.last_order_date is not None:
            values["lastOrderDate"] = format_instant(changes.last_order_date)
        if "email" in names:
            values["email"] = changes.email
        return values
