"""What a client's change means after the fact: an order converts, an opt-out or a deletion cancels pending drafts.

Conversion: an order within the window (30 days) after a sent email marks that email converted; with no such
email, an order within the window after a held_out decision counts for the holdout. The counters the stats read
are raised only when an email or decision is newly marked, so a redelivered event never counts twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engagement.clock import Clock
from engagement.delivery import cancel_pending
from engagement.errors import InvalidRecord
from engagement.events import decode_event
from engagement.messaging import DeadLetterQueue
from engagement.models import EmailStatus, EngagementEvent, Signal
from engagement.observability import count, logger
from engagement.store.decisions import DecisionRepository
from engagement.store.emails import EmailRepository


class SignalsService:
    def __init__(
        self,
        *,
        emails: EmailRepository,
        decisions: DecisionRepository,
        dead_letters: DeadLetterQueue,
        clock: Clock,
        conversion_window: timedelta = timedelta(days=30),
    ) -> None:
        self.emails = emails
        self.decisions = decisions
        self.dead_letters = dead_letters
        self.clock = clock
        self.conversion_window = conversion_window

    def handle_message(self, body: str) -> None:
        try:
            event = decode_event(body)
        except InvalidRecord as invalid:
            logger.error("message dead-lettered", extra={"reason": invalid.reason, "field": invalid.field})
            count("MessagesDeadLettered")
            self.dead_letters.send(body, reason=invalid.reason, field=invalid.field, failed_at=self.clock.now())
            return
        self.handle_event(event)

    def handle_event(self, event: EngagementEvent) -> None:
        user_id = event.client.user_id
        for signal in event.signals:
            if signal is Signal.ORDER_PLACED:
                self.order_placed(user_id, event.occurred_at)
            else:
                cancel_pending(
                    self.emails, user_id, reason=signal.value, by=f"system:{signal.value}", now=self.clock.now()
                )

    def order_placed(self, user_id: str, at: datetime) -> str | None:
        """Attribute an order: the email it converts, 'holdout', or None."""
        since = at - self.conversion_window
        sent = [
            email
            for email in self.emails.for_user_since(user_id, since - timedelta(days=7))  # sent up to a week after
            if email.status is EmailStatus.SENT and email.sent_at is not None and since <= email.sent_at <= at
        ]
        for email in sorted(sent, key=lambda e: e.sent_at or at, reverse=True):
            if email.converted_at is not None:
                return email.email_id  # this order, or an earlier one, already converted it
            if self.emails.mark_converted(email.email_id, at):
                self.decisions.count(emailedConverted=1)
                count("Conversions")
                logger.info("email converted", extra={"userId": user_id, "emailId": email.email_id})
            return email.email_id
        for decision in self.decisions.held_out_since(user_id, since):
            if decision.decided_at > at:
                continue
            if decision.converted_at is None and self.decisions.mark_converted(user_id, decision.decision_key, at):
                self.decisions.count(heldOutConverted=1)
                count("HoldoutConversions")
            return "holdout"
        return None
