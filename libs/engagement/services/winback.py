"""The email processor's work: an engagement event in, a decision (and maybe a win-back draft) out.

It decides on the client's current item (a consistent read), never on the event's copy, which may be stale.
At most one email per client per cooldown window: the email's id is derived from the triggering event, and the
client's email slot is claimed with a conditional write before the draft is stored; then the draft, then the
client's lastEmailDate, then the decision. A redelivered message finds the slot held by its own email and finishes
whatever a crash left undone, instead of writing a second email.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.decisions import DecisionRepository, decision_key
from engagement.adapters.store.emails import EmailRepository
from engagement.adapters.store.suppressions import SuppressionRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock
from engagement.domain.lifecycle import InvalidTransition
from engagement.domain.models import (
    Client,
    Decision,
    DecisionReason,
    DecisionRecord,
    Email,
    EmailHistory,
    EmailStatus,
    EngagementEvent,
    EventType,
    Override,
    ProductPick,
    Score,
    StatusChange,
)
from engagement.domain.picks import MAX_PICKS, PicksRefused, chosen
from engagement.domain.policy import EligibilityRules, decide, decide_request, held_out
from engagement.domain.scoring import score_client
from engagement.errors import TransientFailure
from engagement.observability import count, logger
from engagement.services.delivery import Delivery
from engagement.services.eligibility import email_history, email_id_for
from engagement.services.recommend import Recommender, Shortlist
from engagement.writer import Brand, EmailWriter, WriteRequest, WrittenEmail, render_email


class WinbackService:
    def __init__(
        self,
        *,
        users: UserRepository,
        emails: EmailRepository,
        decisions: DecisionRepository,
        writer: EmailWriter,
        brand: Brand,
        rules: EligibilityRules,
        clock: Clock,
        suppressions: SuppressionRepository,
        models: ChurnModelRepository,
        delivery: Delivery | None = None,
        recommender: Recommender | None = None,
    ) -> None:
        self.users = users
        self.recommender = recommender  # None: emails without products (a shop without a catalog)
        self.models = models
        self.emails = emails
        self.decisions = decisions
        self.writer = writer
        self.brand = brand
        self.rules = rules
        self.clock = clock
        self.suppressions = suppressions
        self.delivery = delivery  # set in DELIVERY_MODE=auto: drafts are sent (or scheduled) at once

    def handle_event(
        self, event: EngagementEvent, *, last_receive: bool = False, deadline: float | None = None
    ) -> DecisionRecord | None:
        """One engagement event (decoded at the edge). Errors worth a retry propagate.

        last_receive: this is the message's last delivery (the writer falls back rather than wait for another).
        deadline: time.monotonic() by which writing must be done (the Lambda's remaining time, less a margin).
        """
        if event.type is EventType.CLIENT_DELETED:
            logger.info("deleted clients get no email", extra={"userId": event.client.user_id})
            return None
        now = self.clock.now()
        user_id = event.client.user_id
        client = self.users.get(user_id, consistent=True)
        if client is None:
            return self._record(event, now, Decision(send=False, reason=DecisionReason.CLIENT_MISSING), None)
        email_id = email_id_for(event)
        asked = event.request  # an operator's request (client.winback_requested), or None
        # the event's own model version at least: a refit a moment ago is not judged by the version before it
        judged_by = event.score.rhythm.model_version if event.score.rhythm else None
        score = score_client(client, now, self.models.latest(at_least=judged_by))
        history = self._history(client, now)
        resuming = history.last_email_id == email_id
        stored = self.emails.get(email_id) if resuming else None
        if stored is not None:
            # A redelivery after the draft was stored: only the steps after it may be missing.
            logger.info("finishing a stored email", extra={"userId": user_id, "emailId": email_id})
        else:
            # The slot we hold (a redelivery after a crash before the draft) counts for nothing here: decide
            # afresh on the current client, and re-claiming moves the slot's date to now.
            fresh = history.model_copy(update={"last_email_date": None, "last_email_id": None})
            now_history = fresh if resuming else history
            if asked is None:
                decision = decide(client, score, now_history, now, self.rules)
            else:  # an operator's request: the score does not decide; the cooldown and cap only unless overridden
                decision = decide_request(client, now_history, now, self.rules, asked.overrides)
            if not decision.send:
                if resuming:
                    self.decisions.release_email_slot(user_id, email_id)
                return self._record(event, now, decision, score)
            cooldown = timedelta(0) if asked and Override.COOLDOWN in asked.overrides else self.rules.cooldown
            if not self.decisions.claim_email_slot(user_id, email_id, now, cooldown):
                # Another email took the slot between our read and our claim (a racing processor).
                return self._record(event, now, Decision(send=False, reason=DecisionReason.COOLDOWN), score)
            if held_out(user_id, self.rules, asked.overrides if asked else ()):
                # Treated like an emailed client (the slot is claimed, the cooldown applies), but nothing is sent.
                return self._record(event, now, Decision(send=False, reason=DecisionReason.HELD_OUT), score)
            shortlist = self._shortlist(client, now, last_receive)
            request = WriteRequest(client=client, score=score, now=now, deadline=deadline, last_attempt=last_receive,
                                   candidates=shortlist.candidates if shortlist else (),
                                   others=shortlist.others if shortlist else ())  # fmt: skip
            stored = self._draft(event, request, email_id)
        self.users.mark_emailed(user_id, email_id, stored.created_at)  # on a retry too: when it was written
        reason = DecisionReason.OPERATOR_REQUEST if asked else DecisionReason.ELIGIBLE
        if self.delivery is not None and stored.status is EmailStatus.PENDING_REVIEW:  # DELIVERY_MODE=auto
            try:
                delivered = self.delivery.approve(email_id, by="system:auto")
            except InvalidTransition:
                delivered = stored  # moved meanwhile: approved or cancelled by someone else
            if delivered.status is EmailStatus.SCHEDULED and not asked:
                reason = DecisionReason.QUIET_HOURS
        return self._record(event, now, Decision(send=True, reason=reason), score, email_id)

    def _shortlist(self, client: Client, now: datetime, last_receive: bool) -> Shortlist | None:
        """The client's candidates; None (an email without products) when they cannot be read: at once for a
        broken catalog item, on the message's last receive for a store that does not answer (retried before)."""
        if self.recommender is None:
            return None
        try:
            return self.recommender.shortlist(client, now)
        except TransientFailure:
            if not last_receive:
                raise
            logger.exception("no products: the catalog could not be read", extra={"userId": client.user_id})
        except Exception:
            logger.exception("no products: the catalog or the orders hold a broken item",
                             extra={"userId": client.user_id})  # fmt: skip
        count("ProductsUnavailable")
        return None

    def _history(self, client: Client, now: datetime) -> EmailHistory:
        return email_history(client, now, frequency_window=self.rules.frequency_window, decisions=self.decisions,
                             emails=self.emails, suppressions=self.suppressions)  # fmt: skip

    def _draft(self, event: EngagementEvent, request: WriteRequest, email_id: str) -> Email:
        client, score, now = request.client, request.score, request.now
        written = self.writer.write(request)
        picks = _picks(written, request)
        rendered = render_email(written.content, self.brand, picks, email_id)
        usage = written.usage
        email = Email(
            email_id=email_id,
            user_id=client.user_id,
            subject=rendered.subject,
            content=rendered.html,
            generated_at=now,
            engagement_score_at_time=score.value,
            status=EmailStatus.PENDING_REVIEW,
            created_at=now,
            recipient=client.email,
            text_content=rendered.text,
            preheader=rendered.preheader,
            band_at_time=score.band,
            writer=written.writer,
            model=written.model,
            prompt_version=written.prompt_version,
            fallback_reason=written.fallback_reason,
            status_changed_at=now,
            transitions=(
                StatusChange(
                    from_status=None, to_status=EmailStatus.PENDING_REVIEW, at=now, by=f"writer:{written.writer}"
                ),
            ),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            llm_latency_ms=usage.latency_ms,
            estimated_cost_usd=round(usage.estimated_cost_usd, 8),
            guardrail_violations=written.guardrail_violations,
            trigger_event_id=event.id,
            body=written.content.body,
            picks=picks,
            candidates=request.candidates,
            request=event.request,
        )
        if not self.emails.add(email):
            return self.emails.get(email_id) or email  # a concurrent duplicate stored it first
        _count_written(written)
        logger.info(
            "win-back email drafted",
            extra={
                "userId": client.user_id,
                "emailId": email_id,
                "writer": written.writer,
                "fallbackReason": written.fallback_reason,
                "band": score.band.value,
                "score": score.value,
                "picks": [pick.product_id for pick in picks],
                "costUsd": usage.estimated_cost_usd,
            },
        )
        return email

    def _record(
        self,
        event: EngagementEvent,
        now: datetime,
        decision: Decision,
        score: Score | None,
        email_id: str | None = None,
    ) -> DecisionRecord:
        record = DecisionRecord(
            user_id=event.client.user_id,
            decision_key=decision_key(event.occurred_at, event.id),
            decided_at=now,
            send=decision.send,
            reason=decision.reason,
            event_id=event.id,
            event_type=event.type,
            score=score.value if score else None,
            band=score.band if score else None,
            score_source=score.source if score else None,
            email_id=email_id,
            request=event.request,
        )
        self.decisions.record(record)  # and counted, once, in the same write
        count(f"Decision_{decision.reason.value}")
        if not decision.send:
            count("EmailsSkipped")
            logger.info("no email", extra={"userId": record.user_id, "reason": decision.reason.value})
        return record


def _picks(written: WrittenEmail, request: WriteRequest) -> tuple[ProductPick, ...]:
    """The products the writer chose, drawn from the request's candidates: whatever a writer answers, only a
    candidate can become a card (the LLM writer's guardrails refuse anything else before it gets here)."""
    try:
        return chosen(written.product_ids, request.candidates)
    except PicksRefused as refused:
        logger.error(
            "a writer chose products outside its candidates; showing the best", extra={"problem": str(refused)}
        )
        return tuple(request.candidates[:MAX_PICKS])


def _count_written(written: WrittenEmail) -> None:
    """EMF metrics for a stored draft: what it cost and whether the LLM writer had to fall back."""
    count("EmailsDrafted")
    usage = written.usage
    if usage.calls:
        count("LLMCalls", usage.calls)
        count("LLMPromptTokens", usage.prompt_tokens)
        count("LLMCompletionTokens", usage.completion_tokens)
        count("LLMCostMicroUSD", round(usage.estimated_cost_usd * 1_000_000))
        count("LLMLatency", usage.latency_ms, MetricUnit.Milliseconds)
    if written.fallback_reason:
        count("WriterFallbacks")
    if written.guardrail_violations:
        count("GuardrailViolations", len(written.guardrail_violations))
