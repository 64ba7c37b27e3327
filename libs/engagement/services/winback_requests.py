"""An operator asks for a win-back draft for one client now (POST /api/users/{userId}/winback).

The request is answered at once: refused (409, with the reason) when consent or deliverability forbid it, or when the
cooldown, the frequency cap or the holdout stand in the way and the request does not override them; otherwise it goes
to the email processor's queue as a client.winback_requested event, and the pipeline's own path drafts it (the same
writer, guardrails, review or auto delivery), deciding again on the client as they are then. The event's id comes
from the client and the request id, and its time from the first asking, so the request sent again, however often, is
the same event: one decision, one draft.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ConfigDict, Field

from engagement.adapters.messaging import EmailRequestQueue
from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.decisions import DecisionRepository
from engagement.adapters.store.emails import EmailRepository
from engagement.adapters.store.suppressions import SuppressionRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock
from engagement.domain.models import (
    OPERATOR_PATTERN,
    REQUEST_ID_PATTERN,
    CamelModel,
    Client,
    DecisionReason,
    Email,
    EmailHistory,
    EngagementEvent,
    EventType,
    OperatorRequest,
    Override,
)
from engagement.domain.policy import EligibilityRules, decide_request, held_out, last_emailed
from engagement.domain.scoring import score_client
from engagement.errors import Conflict, NotFound
from engagement.observability import count, logger
from engagement.services.eligibility import email_history, email_id_of

_REQUEST_EVENTS = uuid.UUID("0b7e2f4c-5d1a-4e8b-9c3f-6a2d1e9f8b40")
DELETED = "deleted"


class WinbackAsk(CamelModel):
    """The body of POST /api/users/{userId}/winback; all of it optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str | None = Field(default=None, max_length=500, description="Why: kept on the decision and the email")
    requested_by: str = Field(default="operator", min_length=1, max_length=100, pattern=OPERATOR_PATTERN,
                              description="Who asks (with a JWT, the person the token names)")  # fmt: skip
    request_id: str | None = Field(
        default=None, pattern=REQUEST_ID_PATTERN, description="The same id again makes no second draft"
    )
    override: tuple[Override, ...] = Field(default=(), description="Rules set aside: cooldown, frequency_cap, holdout")


@dataclass(frozen=True)
class WinbackAnswer:
    email_id: str
    request_id: str
    correlation_id: str  # the event's id: what the email processor's log lines carry
    email: Email | None  # drafted already (the request was sent before): no new event


def request_event_id(user_id: str, request_id: str) -> str:
    return f"winback-request-{uuid.uuid5(_REQUEST_EVENTS, json.dumps([user_id, request_id]))}"


class WinbackRequests:
    def __init__(
        self,
        *,
        users: UserRepository,
        emails: EmailRepository,
        decisions: DecisionRepository,
        suppressions: SuppressionRepository,
        models: ChurnModelRepository,
        rules: EligibilityRules,
        queue: EmailRequestQueue,
        clock: Clock,
    ) -> None:
        self.users = users
        self.emails = emails
        self.decisions = decisions
        self.suppressions = suppressions
        self.models = models
        self.rules = rules
        self.queue = queue
        self.clock = clock

    def request(self, user_id: str, ask: WinbackAsk, *, by: str) -> WinbackAnswer:
        """Queue an operator's request, or say why not (Conflict with the reason; NotFound for an unknown client)."""
        request_id = ask.request_id or uuid.uuid4().hex
        event_id = request_event_id(user_id, request_id)
        email_id = email_id_of(event_id)
        drafted = self.emails.get(email_id)
        if drafted is not None:
            return WinbackAnswer(email_id, request_id, event_id, drafted)
        now = self.clock.now()
        client = self.users.get(user_id, consistent=True)
        if client is None:
            if self.decisions.for_user(user_id, limit=1).items or self.emails.for_user(user_id, limit=1).items:
                raise Conflict(f"client {user_id!r} was deleted: no email", reason=DELETED)
            raise NotFound(f"no client {user_id!r}")
        overrides = frozenset(ask.override)
        history = email_history(client, now, frequency_window=self.rules.frequency_window, decisions=self.decisions,
                                emails=self.emails, suppressions=self.suppressions)  # fmt: skip
        if history.last_email_id != email_id:  # else: queued before, and being drafted now
            decision = decide_request(client, history, now, self.rules, overrides)
            if not decision.send:
                raise Conflict(self._why(decision.reason, client, history, now), reason=decision.reason.value)
            if held_out(user_id, self.rules, overrides):
                reason = DecisionReason.HELD_OUT
                raise Conflict(self._why(reason, client, history, now), reason=reason.value)
        request = OperatorRequest(request_id=request_id, requested_by=by, reason=ask.reason,
                                  overrides=tuple(sorted(overrides)))  # fmt: skip
        event = EngagementEvent(
            id=event_id,
            type=EventType.WINBACK_REQUESTED,
            occurred_at=self.decisions.remember_request(user_id, request_id, now),  # the first asking's time
            client=client,
            score=score_client(client, now, self.models.latest()),
            request=request,
        )
        self.queue.send(event)
        count("WinbackRequests")
        logger.info(
            "win-back draft requested",
            extra={"userId": user_id, "requestedBy": by, "requestId": request_id, "emailId": email_id,
                   "overrides": [o.value for o in request.overrides], "correlationId": event_id},
        )  # fmt: skip
        return WinbackAnswer(email_id, request_id, event_id, None)

    def _why(self, reason: DecisionReason, client: Client, history: EmailHistory, now: datetime) -> str:
        user_id = client.user_id
        if reason is DecisionReason.OPTED_OUT:
            return f"client {user_id!r} has opted out of email: no win-back email, whoever asks"
        if reason is DecisionReason.SUPPRESSED:
            return f"client {user_id!r}'s address is suppressed (a hard bounce or a complaint): no email can go"
        if reason is DecisionReason.COOLDOWN:
            last = last_emailed(client, history)
            ago = f" {_elapsed(now - last)} ago" if last is not None else ""
            days = self.rules.cooldown.total_seconds() / 86_400
            return (f"client {user_id!r} was emailed{ago}, within the {days:g}-day cooldown; "
                    'send "override": ["cooldown"] to draft anyway')  # fmt: skip
        if reason is DecisionReason.FREQUENCY_CAP:
            return (f"client {user_id!r} has had {history.recent_emails} win-back emails in the last "
                    f"{self.rules.frequency_window.days} days, the cap is {self.rules.frequency_cap}; "
                    'send "override": ["frequency_cap"] to draft anyway')  # fmt: skip
        return (f"client {user_id!r} is in the holdout (the control group, never emailed, to measure lift); "
                'send "override": ["holdout"] to draft anyway')  # fmt: skip


def _elapsed(elapsed: timedelta) -> str:
    hours = elapsed.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"
