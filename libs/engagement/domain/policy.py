"""Eligibility for a win-back email: a pure function of the client's current item, its score and the time."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from engagement.domain.models import Client, Decision, DecisionReason, EmailHistory, Override, Score


class EligibilityRules(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    cooldown: timedelta = timedelta(days=7)
    frequency_window: timedelta = timedelta(days=30)
    frequency_cap: int = 2  # win-back emails per client per frequency window
    holdout_percent: float = 0.0  # share of eligible clients held out, for measuring lift


def in_holdout(user_id: str, percent: float) -> bool:
    """Deterministic: the same client is always in, or always out of, the holdout for a given share."""
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(f"holdout:{user_id}".encode()).digest()[:8], "big") % 10_000
    return bucket < percent * 100


def held_out(user_id: str, rules: EligibilityRules, overrides: Collection[Override] = ()) -> bool:
    """Whether the client is in the holdout and stays there: an operator's request may set it aside by saying so."""
    return Override.HOLDOUT not in overrides and in_holdout(user_id, rules.holdout_percent)


def last_emailed(client: Client, history: EmailHistory) -> datetime | None:
    """The latest of our own record and the item's lastEmailDate (which an operator or import may have set)."""
    dates = [date for date in (history.last_email_date, client.last_email_date) if date is not None]
    return max(dates, default=None)


def decide(client: Client, score: Score, history: EmailHistory, now: datetime, rules: EligibilityRules) -> Decision:
    """Send only to an at-risk client (score < 50) who wants email, whose address does not bounce, and who was not
    emailed within the cooldown nor more often than the frequency cap allows.

    The holdout is decided after this, once the client's slot is claimed: a held-out client is treated exactly like
    an emailed one (same eligibility, same cooldown), only no email goes out, so the two groups compare fairly.
    """
    if not score.band.is_at_risk:
        return Decision(send=False, reason=DecisionReason.NOT_AT_RISK)
    return _refusal(client, history, now, rules, overrides=frozenset()) or Decision(
        send=True, reason=DecisionReason.ELIGIBLE
    )


def decide_request(
    client: Client, history: EmailHistory, now: datetime, rules: EligibilityRules, overrides: Collection[Override]
) -> Decision:
    """An operator's request for a draft now: the operator has judged the client, so the score does not decide;
    consent and deliverability always apply; the cooldown and the frequency cap apply unless the request overrides
    them (the holdout is drawn later, as for the pipeline)."""
    return _refusal(client, history, now, rules, overrides=frozenset(overrides)) or Decision(
        send=True, reason=DecisionReason.OPERATOR_REQUEST
    )


def _refusal(
    client: Client, history: EmailHistory, now: datetime, rules: EligibilityRules, *, overrides: frozenset[Override]
) -> Decision | None:
    if client.opted_out or history.address_opted_out:
        return Decision(send=False, reason=DecisionReason.OPTED_OUT)
    if client.suppressed or history.address_suppressed:
        return Decision(send=False, reason=DecisionReason.SUPPRESSED)
    last = last_emailed(client, history)
    if Override.COOLDOWN not in overrides and last is not None and now - last < rules.cooldown:
        return Decision(send=False, reason=DecisionReason.COOLDOWN)
    if Override.FREQUENCY_CAP not in overrides and history.recent_emails >= rules.frequency_cap:
        return Decision(send=False, reason=DecisionReason.FREQUENCY_CAP)
    return None
