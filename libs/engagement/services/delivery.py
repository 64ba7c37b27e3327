"""Delivery: approve, reject, send (now or in the client's sending window), cancel, unsubscribe.

Sending happens at most once per email: everything that can fail is done first (the client, the consent check,
the message and its signed link), then the email moves to SENDING with a conditional write, and only the one
that succeeds calls SES, once (no SDK retries). Consent is checked again after that claim, so an unsubscribe that
lands meanwhile still stops the email. If SES defers it (throttling, quota), the email is scheduled a little later,
at most MAX_DEFERRALS times; if SES refuses it, it becomes FAILED with the reason. When the outcome is unknown (the
answer was lost, or the sender stopped between SES and SENT: found stuck in SENDING by the scheduled sender) it
becomes FAILED with deliveryUncertain, counted as sent for the caps, and never sent again: at most once beats twice.

The products an email shows are checked against the catalog just before it is sent: one gone out of stock is
replaced by the best candidate in stock that is not shown, or dropped (with the paragraphs that name it); a changed
price is taken. The email is re-rendered and the claim records what changed, so what is sent is what is stored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from engagement.adapters.mailer import MailDeferred, Mailer, MailOutcomeUnknown, MailRefused
from engagement.adapters.store.decisions import DecisionRepository
from engagement.adapters.store.emails import EmailRepository
from engagement.adapters.store.products import ProductRepository
from engagement.adapters.store.suppressions import UNSUBSCRIBED, SuppressionRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock, TimeLeft, unlimited
from engagement.domain.consent import UnsubscribeTokens
from engagement.domain.lifecycle import PENDING, InvalidTransition, change
from engagement.domain.mime import build_message, visible_headers
from engagement.domain.models import Client, Email, EmailChanges, EmailStatus, EmailSummary
from engagement.domain.picks import refreshed
from engagement.domain.sending_window import SendingWindow, is_known_zone, next_send_time
from engagement.errors import Conflict, NotFound, TransientFailure
from engagement.observability import count, logger
from engagement.writer.base import EmailContent
from engagement.writer.products import without_mentions
from engagement.writer.render import Brand, render_email

S = EmailStatus
THROTTLE_RETRY = timedelta(minutes=2)  # times the number of deferrals so far
MAX_DEFERRALS = 5
APPROVED_GRACE = timedelta(minutes=2)  # an APPROVED email older than this was left by a sender that stopped
SWEEP_RESERVE_S = 10.0  # the scheduled sender stops starting sends with less time than this left


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
        products: ProductRepository | None = None,
        brand: Brand | None = None,
    ) -> None:
        self.products = products  # with brand: the picks are checked against the catalog at send time
        self.brand = brand
        self.emails = emails
        self.users = users
        self.suppressions = suppressions
        self.decisions = decisions
        self.mailer = mailer
        self._tokens = tokens  # read lazily: the secret may come from SSM
        self.settings = settings
        self.clock = clock

    # ---- operator actions -------------------------------------------------------------------------------------

    def approve(self, email_id: str, *, by: str, version: int | None = None) -> Email:
        """Send a draft under review now (one write: the claim), or schedule it for the client's window, or cancel
        it if it may no longer go. version: the number of steps the reviewer saw; the approval fails (Conflict) if
        the email changed since. If it cannot go on now for a passing reason (the signing key or the client could
        not be read), the approval is recorded (APPROVED) for the scheduled sender to carry on, and the error
        raised."""
        email = self._get(email_id)
        if email.status is not S.PENDING_REVIEW:
            raise InvalidTransition(email_id, email.status, S.APPROVED)
        try:
            return self.dispatch(email, by=by, expected_version=version)
        except InvalidTransition as moved:  # another approval claimed it first
            raise InvalidTransition(email_id, moved.current, S.APPROVED) from moved
        except TransientFailure:
            with contextlib.suppress(InvalidTransition, Conflict):  # it moved after all: nothing to keep
                self._move(email, S.APPROVED, by=by, expected_version=version)
            raise

    def reject(self, email_id: str, *, by: str, reason: str | None = None, version: int | None = None) -> Email:
        email = self._get(email_id)
        return self._move(email, S.REJECTED, by=by, reason=reason, expected_version=version)

    def link_is_valid(self, user_id: str, email_id: str, token: str, kid: str | None = None) -> bool:
        """Whether we signed this link, for this client and one of their emails."""
        if not self._tokens().verify(user_id, email_id, token, kid):
            return False
        email = self.emails.get(email_id)
        return email is not None and email.user_id == user_id

    def unsubscribe(self, user_id: str, email_id: str, token: str, kid: str | None = None) -> bool:
        """Opt the client out at once and cancel their pending drafts; False for a link we did not sign, or one whose
        email is not the client's."""
        if not self.link_is_valid(user_id, email_id, token, kid):
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

    def dispatch(self, email: Email, *, by: str, expected_version: int | None = None) -> Email:
        """An email being approved, an APPROVED or a due SCHEDULED one: cancelled if it may no longer go,
        (re)scheduled for the client's window, or sent now."""
        now = self.clock.now()
        client = self.users.get(email.user_id, consistent=True)
        blocked = self._blocked(client)
        if blocked:
            return self._move(email, S.CANCELLED, by=by, reason=blocked, expected_version=expected_version)
        assert client is not None
        if client.timezone and not is_known_zone(client.timezone):
            count("UnknownTimeZones")
            logger.warning("unknown time zone: no quiet hours", extra={"userId": client.user_id,
                                                                      "timezone": client.timezone[:64]})  # fmt: skip
        send_at = next_send_time(now, client.timezone, self.settings.window)
        if send_at > now:
            return self._move(
                email,
                S.SCHEDULED,
                by=by,
                reason=f"quiet hours ({client.timezone})",
                changes=EmailChanges(send_at=send_at),
                expected_version=expected_version,
            )
        return self._send(email, client, by=by, expected_version=expected_version)

    def send_due(self, time_left: TimeLeft = unlimited) -> list[Email]:
        """The scheduled sender: send the SCHEDULED emails that are due (checking the window again: a late run or a
        deferral may land at night), dispatch APPROVED ones a stopped sender left, and fail what has been stuck in
        SENDING too long. Stops starting sends when time_left() (seconds) runs low: the rest is next run's."""
        now = self.clock.now()
        handled: list[Email] = []
        due = [e for e in self.emails.in_status(S.SCHEDULED) if e.send_at is None or e.send_at <= now]
        left_behind = [e for e in self.emails.in_status(S.APPROVED)
                       if now - (e.status_changed_at or e.created_at) >= APPROVED_GRACE]  # fmt: skip
        for listed in [*due, *left_behind]:
            if time_left() < SWEEP_RESERVE_S:
                logger.info("out of time; the rest is left for the next run", extra={"handled": len(handled)})
                break
            email = self.emails.get(listed.email_id, consistent=True)  # the index lists it; the table holds it
            if email is None or email.status is not listed.status or email.send_at != listed.send_at:
                continue  # it moved, or was put off, since the index saw it
            try:
                handled.append(self.dispatch(email, by="system:scheduler"))
            except InvalidTransition:
                continue  # another sender took it

        def stuck_too_long(email: Email | EmailSummary) -> bool:
            return now - (email.status_changed_at or email.created_at) >= self.settings.stuck_after

        for listed in self.emails.in_status(S.SENDING):
            if not stuck_too_long(listed):
                continue
            stuck = self.emails.get(listed.email_id, consistent=True)  # not claimed again since the index saw it
            if stuck is not None and stuck.status is S.SENDING and stuck_too_long(stuck):
                reason = "delivery outcome unknown: the sender stopped between SES and SENT; not resent"
                try:
                    handled.append(self._uncertain(stuck, reason, by="system:scheduler"))
                except InvalidTransition:
                    continue
        return handled

    def _send(self, email: Email, client: Client, *, by: str, expected_version: int | None = None) -> Email:
        now = self.clock.now()
        email, refreshed, what_changed = self._picks_now(email)
        message = build_message(  # before the claim: if the signing key cannot be read, nothing has moved
            email,
            sender=self.settings.sender,
            sender_name=self.settings.sender_name,
            recipient=client.email,
            unsubscribe_url=self._tokens().url(client.user_id, email.email_id),
            now=now,
        )
        # The claim: only one sender gets past this line (with the picks as they are sent, if they changed).
        sending = self._move(email, S.SENDING, by=by, expected_version=expected_version, changes=refreshed,
                             reason=what_changed)  # fmt: skip
        try:
            listed = self.suppressions.reason_for(client.email)  # an unsubscribe or a bounce since the first check
        except TransientFailure as unavailable:
            return self._defer(sending, f"suppression list unavailable: {unavailable}", now, by=by)
        if listed is not None:
            return self._move(
                sending, S.CANCELLED, by=by, reason="opted_out" if listed == UNSUBSCRIBED else "suppressed"
            )
        try:
            message_id = self.mailer.send(
                message, sender=self.settings.sender, recipient=client.email, email_id=email.email_id
            )
        except MailRefused as refused:
            count("EmailsFailed")
            why = str(refused)[:500]
            return self._move(sending, S.FAILED, by="ses", reason=why, changes=EmailChanges(failure_reason=why))
        except MailDeferred as deferred:
            return self._defer(sending, str(deferred), now, by="ses")
        except MailOutcomeUnknown as unknown:
            return self._uncertain(sending, f"delivery outcome unknown ({unknown}); not resent", by="ses")
        what_went = EmailChanges(sent_at=now, provider_message_id=message_id, sent_headers=visible_headers(message),
                                 recipient=client.email)  # fmt: skip
        sent = self._move(sending, S.SENT, by=by, changes=what_went,
                          counting=self.decisions.increment(email.user_id, emailed=1))  # fmt: skip
        count("EmailsSent")
        logger.info("email sent", extra={"emailId": email.email_id, "userId": email.user_id, "messageId": message_id})
        return sent

    def _defer(self, sending: Email, why: str, now: datetime, *, by: str) -> Email:
        """Not sent, and safe to try again: later (a little later each time), or FAILED after MAX_DEFERRALS."""
        deferrals = 1 + sum(1 for t in sending.transitions if (t.from_status, t.to_status) == (S.SENDING, S.SCHEDULED))
        if deferrals > MAX_DEFERRALS:
            count("EmailsFailed")
            reason = f"deferred {MAX_DEFERRALS} times, last: {why}"[:500]
            return self._move(sending, S.FAILED, by=by, reason=reason, changes=EmailChanges(failure_reason=reason))
        count("SendsDeferred")
        return self._move(sending, S.SCHEDULED, by=by, reason=f"{why}; retrying"[:500],
                          changes=EmailChanges(send_at=now + THROTTLE_RETRY * deferrals))  # fmt: skip

    def _uncertain(self, sending: Email, reason: str, *, by: str) -> Email:
        count("SendsUncertain")
        logger.error("delivery outcome unknown", extra={"emailId": sending.email_id, "reason": reason})
        return self._move(sending, S.FAILED, by=by, reason=reason[:500],
                          changes=EmailChanges(failure_reason=reason[:500], delivery_uncertain=True))  # fmt: skip

    def _picks_now(self, email: Email) -> tuple[Email, EmailChanges | None, str | None]:
        """The email as it should go: its picks as the catalog has them now, re-rendered if anything changed, with
        the changes to store and, in words, what changed."""
        if not email.picks or self.products is None or self.brand is None or email.body is None:
            return email, None, None
        ids = [pick.product_id for pick in (*email.picks, *email.candidates)]
        picks, changed = refreshed(email.picks, email.candidates, self.products.get_many(ids))
        if not changed:
            return email, None, None
        kept = {pick.product_id for pick in picks}
        gone = [pick.title for pick in email.picks if pick.product_id not in kept]
        content, removed = without_mentions(EmailContent.of(email.subject, email.preheader, email.body), gone,
                                            still_shown=[pick.title for pick in picks])  # fmt: skip
        if removed:
            changed.append(f"{removed} paragraph(s) naming a product no longer shown taken out")
        rendered = render_email(content, self.brand, picks, email.email_id)
        changes = EmailChanges(subject=rendered.subject, preheader=rendered.preheader, content=rendered.html,
                               text_content=rendered.text, body=content.body, picks=picks)  # fmt: skip
        what = "picks checked at send time: " + "; ".join(changed)
        count("PicksChangedAtSend")
        logger.info("picks changed at send time", extra={"emailId": email.email_id, "changes": changed})
        updated = email.model_copy(update={"subject": rendered.subject, "preheader": rendered.preheader,
                                           "content": rendered.html, "text_content": rendered.text,
                                           "body": content.body, "picks": picks})  # fmt: skip
        return updated, changes, what[:500]

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

    def _move(
        self,
        email: Email | EmailSummary,
        to: EmailStatus,
        *,
        by: str,
        reason: str | None = None,
        expected_version: int | None = None,
        counting: dict[str, Any] | None = None,
        changes: EmailChanges | None = None,
    ) -> Email:
        step = change(email.status, to, at=self.clock.now(), by=by, reason=reason, email_id=email.email_id)
        return self.emails.transition(
            email.email_id, step, changes, expected_version=expected_version, counting=counting
        )
