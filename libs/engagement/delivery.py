"""Delivery: approve, reject, send (now or in the client's sending window), cancel, unsubscribe.

Sending happens at most once per email: the sender first moves the email to SENDING with a conditional write, and
only the one that succeeds calls SES. If SES throttles, the email is scheduled a little later rather than lost;
if SES refuses it for good, it becomes FAILED with the reason. A send interrupted between SES and SENT is found by
the scheduled sender (stuck in SENDING) and marked FAILED, never sent again: at most once beats twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from engagement.clock import Clock
from engagement.consent import UnsubscribeTokens
from engagement.errors import NotFound, TransientFailure
from engagement.lifecycle import PENDING, InvalidTransition, change
from engagement.mailer import Mailer, MailRefused
from engagement.mime import build_message, visible_headers
from engagement.models import Client, Email, EmailStatus
from engagement.observability import count, logger
from engagement.sending_window import SendingWindow, next_send_time
from engagement.store.decisions import DecisionRepository
from engagement.store.emails import EmailRepository
from engagement.store.suppressions import UNSUBSCRIBED, SuppressionRepository
from engagement.store.users import UserRepository

S = EmailStatus
THROTTLE_RETRY = timedelta(minutes=2)


class DeliverySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Literal["review", "auto"] = "review"
    sender: str
    sender_name: str
    window: SendingWindow = SendingWindow()
    stuck_after: timedelta = timedelta(minutes=15)


def cancel_pending(emails: EmailRepository, user_id: str, *, reason: str, by: str, now: datetime) -> list[Email]:
    """Cancel every draft of a client that has not gone out (review, approved or scheduled)."""
    cancelled = []
    for email in emails.for_user_since(user_id, datetime(2000, 1, 1, tzinfo=UTC)):
        if email.status not in PENDING:
            continue
        try:
            step = change(email.status, S.CANCELLED, at=now, by=by, reason=reason, email_id=email.email_id)
            cancelled.append(emails.transition(email.email_id, step))
        except InvalidTransition:
            continue  # it moved meanwhile (sent, rejected): nothing to cancel
    if cancelled:
        count("EmailsCancelled", len(cancelled))
        logger.info("pending emails cancelled", extra={"userId": user_id, "reason": reason, "count": len(cancelled)})
    return cancelled


class Delivery:
    def __init__(
        self,
        *,
        emails: EmailRepository,
        users: UserRepository,
        suppressions: SuppressionRepository,
        decisions: DecisionRepository,
        mailer: Mailer,
        tokens: Callable[[], UnsubscribeTokens],
        settings: DeliverySettings,
        clock: Clock,
    ) -> None:
        self.emails = emails
        self.users = users
        self.suppressions = suppressions
        self.decisions = decisions
        self.mailer = mailer
        self._tokens = tokens  # read lazily: the secret may come from SSM
        self.settings = settings
        self.clock = clock

    # ---- operator actions -------------------------------------------------------------------------------------

    def approve(self, email_id: str, *, by: str) -> Email:
        email = self._get(email_id)
        approved = self._move(email, S.APPROVED, by=by)
        return self.dispatch(approved, by=by)

    def reject(self, email_id: str, *, by: str, reason: str | None = None) -> Email:
        email = self._get(email_id)
        return self._move(email, S.REJECTED, by=by, reason=reason)

    def link_is_valid(self, user_id: str, email_id: str, token: str) -> bool:
        return self._tokens().verify(user_id, email_id, token)

    def unsubscribe(self, user_id: str, email_id: str, token: str) -> bool:
        """Opt the client out at once and cancel their pending drafts; False for a link we did not sign."""
        if not self.link_is_valid(user_id, email_id, token):
            count("UnsubscribeRefused")
            return False
        now = self.clock.now()
        client = self.users.get(user_id, consistent=True)
        if client is not None:  # the address too: an upstream put-item replacing the client must not undo consent
            self.suppressions.suppress(
                client.email, reason=UNSUBSCRIBED, at=now, source={"kind": "unsubscribe", "emailId": email_id}
            )
        self.users.opt_out(user_id, now)
        cancel_pending(self.emails, user_id, reason="opted_out", by="client:unsubscribe", now=now)
        count("Unsubscribes")
        logger.info("client unsubscribed", extra={"userId": user_id, "emailId": email_id})
        return True

    # ---- sending ----------------------------------------------------------------------------------------------

    def dispatch(self, email: Email, *, by: str) -> Email:
        """An APPROVED email: cancelled if it may no longer go, scheduled for the client's window, or sent now."""
        now = self.clock.now()
        client = self.users.get(email.user_id, consistent=True)
        blocked = self._blocked(client)
        if blocked:
            return self._move(email, S.CANCELLED, by=by, reason=blocked)
        assert client is not None
        send_at = next_send_time(now, client.timezone, self.settings.window)
        if send_at > now:
            return self._move(email, S.SCHEDULED, by=by, reason=f"quiet hours ({client.timezone})", sendAt=send_at)
        return self._send(email, client, by=by)

    def send_due(self) -> list[Email]:
        """The scheduled sender: send what is due; fail what has been stuck in SENDING for too long."""
        now = self.clock.now()
        handled = []
        for email in self.emails.in_status(S.SCHEDULED):
            if email.send_at is None or email.send_at <= now:
                client = self.users.get(email.user_id, consistent=True)
                blocked = self._blocked(client)
                try:
                    if blocked:
                        handled.append(self._move(email, S.CANCELLED, by="system:scheduler", reason=blocked))
                    else:
                        assert client is not None
                        handled.append(self._send(email, client, by="system:scheduler"))
                except InvalidTransition:
                    continue  # another sender took it
        for email in self.emails.in_status(S.SENDING):
            changed = email.status_changed_at or email.created_at
            if now - changed >= self.settings.stuck_after:
                reason = "delivery outcome unknown: the sender stopped between SES and SENT; not resent"
                try:
                    handled.append(self._move(email, S.FAILED, by="system:scheduler", reason=reason,
                                              failureReason=reason))  # fmt: skip
                except InvalidTransition:
                    continue
        return handled

    def _send(self, email: Email, client: Client, *, by: str) -> Email:
        sending = self._move(email, S.SENDING, by=by)  # the claim: only one sender gets past this line
        now = self.clock.now()
        message = build_message(
            sending,
            sender=self.settings.sender,
            sender_name=self.settings.sender_name,
            unsubscribe_url=self._tokens().url(client.user_id, email.email_id),
            now=now,
        )
        try:
            message_id = self.mailer.send(
                message, sender=self.settings.sender, recipient=client.email, email_id=email.email_id
            )
        except MailRefused as refused:
            count("EmailsFailed")
            return self._move(sending, S.FAILED, by="ses", reason=str(refused)[:500], failureReason=str(refused)[:500])
        except TransientFailure as throttled:
            retry_at = now + THROTTLE_RETRY
            count("SendsDeferred")
            return self._move(sending, S.SCHEDULED, by="ses", reason=f"{throttled}; retrying", sendAt=retry_at)
        sent = self._move(sending, S.SENT, by=by, sentAt=now, providerMessageId=message_id,
                          sentHeaders=visible_headers(message))  # fmt: skip
        self.decisions.count(emailed=1)
        count("EmailsSent")
        logger.info("email sent", extra={"emailId": email.email_id, "userId": email.user_id, "messageId": message_id})
        return sent

    # ---- helpers ----------------------------------------------------------------------------------------------

    def _blocked(self, client: Client | None) -> str | None:
        if client is None:
            return "client deleted"
        listed = self.suppressions.reason_for(client.email)
        if client.opted_out or listed == UNSUBSCRIBED:
            return "opted_out"
        if client.suppressed or listed is not None:
            return "suppressed"
        return None

    def _get(self, email_id: str) -> Email:
        email = self.emails.get(email_id)
        if email is None:
            raise NotFound(f"no email {email_id!r}")
        return email

    def _move(self, email: Email, to: EmailStatus, *, by: str, reason: str | None = None, **updates: object) -> Email:
        step = change(email.status, to, at=self.clock.now(), by=by, reason=reason, email_id=email.email_id)
        return self.emails.transition(email.email_id, step, **updates)
