"""Conversion: did an order follow a win-back email (or a held-out decision)?

An order within the window (30 days) after a sent email marks that email converted; with no such email, an order
within the window after a held_out decision counts for the holdout. The counters the stats read are raised in the
same write that newly marks an email or decision, so an order seen twice (a redelivered event, a repeated API call)
never counts twice, and a crash cannot leave a conversion uncounted. Orders arrive from the stream (orderCount
rose) and from the API (POST .../orders).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engagement.adapters.store.decisions import DecisionRepository
from engagement.adapters.store.emails import EmailRepository
from engagement.domain.models import EmailStatus
from engagement.observability import count, logger

HOLDOUT = "holdout"


class Conversions:
    def __init__(
        self, *, emails: EmailRepository, decisions: DecisionRepository, window: timedelta = timedelta(days=30)
    ) -> None:
        self.emails = emails
        self.decisions = decisions
        self.window = window

    def order_placed(self, user_id: str, at: datetime) -> str | None:
        """Attribute an order: the email it converts, 'holdout', or None."""
        since = at - self.window
        drafted_since = since - timedelta(days=7)  # an email may wait in review for a while before it is sent
        sent = [
            email
            for email in self.emails.for_user_since(user_id, drafted_since)
            if email.status is EmailStatus.SENT and email.sent_at is not None and since <= email.sent_at <= at
        ]
        for email in sorted(sent, key=lambda e: e.sent_at or at, reverse=True):
            if email.converted_at is not None:
                return email.email_id  # this order, or an earlier one, already converted it
            counting = self.decisions.increment(user_id, emailedConverted=1)
            if self.emails.mark_converted(email.email_id, at, counting=counting):
                count("Conversions")
                logger.info("email converted", extra={"userId": user_id, "emailId": email.email_id})
            return email.email_id
        for decision in self.decisions.held_out_since(user_id, since):
            if decision.decided_at > at:
                continue
            if decision.converted_at is None and self.decisions.mark_converted(user_id, decision.decision_key, at):
                count("HoldoutConversions")
            return HOLDOUT
        return None
