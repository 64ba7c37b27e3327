"""An email's lifecycle: which status may follow which, who moved it and when. Pure.

    PENDING_REVIEW ──approve: claim──▶ SENDING ──▶ SENT
          │    │                         │ ├───▶ FAILED (refused, or the outcome is unknown)
          │    │                         │ └───▶ CANCELLED (unsubscribed or bounced meanwhile)
          │    │                         └── SES deferred it ──▶ SCHEDULED
          │    ├──approve: quiet hours──▶ SCHEDULED ──due──▶ SENDING   (or SCHEDULED again: later)
          │    └──approve, not sendable yet──▶ APPROVED ──the scheduled sender──▶ SENDING or SCHEDULED
          ├──edit──▶ PENDING_REVIEW (re-rendered, guardrails checked again)
          ├──reject──▶ REJECTED
          └── (opt-out, suppression, deletion) ──▶ CANCELLED   (also from APPROVED and SCHEDULED)

An approval is one conditional write: the claim itself (to SENDING), or SCHEDULED for the client's window. APPROVED
records an approval that could not go on at once (the signing key or the client could not be read) so that it is
not lost: the scheduled sender carries it on.

SENDING is the claim that makes sending idempotent: only the one who moved an email to SENDING calls SES, and
nothing leads back to PENDING_REVIEW or APPROVED, so a retried approval or a second scheduler run never sends twice.
"""

from __future__ import annotations

from datetime import datetime

from engagement.domain.models import EmailStatus, StatusChange

S = EmailStatus
ALLOWED: dict[EmailStatus, frozenset[EmailStatus]] = {
    S.PENDING_REVIEW: frozenset(  # itself: an edit
        {S.PENDING_REVIEW, S.SENDING, S.SCHEDULED, S.APPROVED, S.REJECTED, S.CANCELLED}
    ),
    S.APPROVED: frozenset({S.SENDING, S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SENDING, S.SCHEDULED, S.CANCELLED}),
    S.SENDING: frozenset({S.SENT, S.FAILED, S.SCHEDULED, S.CANCELLED}),
    S.SENT: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}
PENDING = frozenset({S.PENDING_REVIEW, S.APPROVED, S.SCHEDULED})  # not sent yet, and may still be
FINAL = frozenset(status for status, following in ALLOWED.items() if not following)


class InvalidTransition(Exception):
    def __init__(self, email_id: str, current: EmailStatus | None, wanted: EmailStatus) -> None:
        shown = current.value if current else "missing"
        super().__init__(f"email {email_id} is {shown}; it cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted


def change(current: EmailStatus, wanted: EmailStatus, *, at: datetime, by: str, reason: str | None = None,
           email_id: str = "") -> StatusChange:  # fmt: skip
    """The change from current to wanted, or InvalidTransition."""
    if wanted not in ALLOWED[current]:
        raise InvalidTransition(email_id, current, wanted)
    return StatusChange(from_status=current, to_status=wanted, at=at, by=by, reason=reason)
