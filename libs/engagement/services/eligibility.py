"""What the policy reads about a client's past emails, from the stores: shared by the email processor, which decides,
and an operator's request, which is answered at once (engagement.services.winback_requests)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from engagement.adapters.store.decisions import DecisionRepository
from engagement.adapters.store.emails import EmailRepository
from engagement.adapters.store.suppressions import UNSUBSCRIBED, SuppressionRepository
from engagement.domain.models import Client, EmailHistory, EmailStatus, EmailSummary, EngagementEvent

# Emails that do not count towards the frequency cap: they never went out and never will (a FAILED email whose
# delivery is uncertain counts: SES may have sent it).
NOT_COUNTED = frozenset({EmailStatus.REJECTED, EmailStatus.CANCELLED, EmailStatus.FAILED})

_EMAIL_IDS = uuid.UUID("6f1c9a1e-3b5e-4c1a-9a57-0d3c2f1b7e11")


def counts_towards_cap(email: EmailSummary) -> bool:
    return email.status not in NOT_COUNTED or email.delivery_uncertain


def email_id_for(event: EngagementEvent) -> str:
    """The same triggering event always names the same email, so retries cannot make a second one."""
    return email_id_of(event.id)


def email_id_of(event_id: str) -> str:
    return str(uuid.uuid5(_EMAIL_IDS, event_id))


def email_history(
    client: Client,
    now: datetime,
    *,
    frequency_window: timedelta,
    decisions: DecisionRepository,
    emails: EmailRepository,
    suppressions: SuppressionRepository,
) -> EmailHistory:
    """The email slot, how many emails the frequency window already holds, and whether the address bounces."""
    slot = decisions.email_history(client.user_id)
    since = now - frequency_window
    recent = [e for e in emails.for_user_since(client.user_id, since) if counts_towards_cap(e)]
    # A held-out client counts as emailed: else the holdout would be decided more often than clients are emailed.
    held_out = decisions.held_out_since(client.user_id, since)
    listed = suppressions.reason_for(client.email)
    return slot.model_copy(
        update={
            "recent_emails": len(recent) + len(held_out),
            "address_opted_out": listed == UNSUBSCRIBED,
            "address_suppressed": listed is not None and listed != UNSUBSCRIBED,
        }
    )
