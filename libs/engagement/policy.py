"""Eligibility for a win-back email: a pure function of the client's current item, its score and the time."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from engagement.models import Client, Decision, DecisionReason, EmailHistory, Score


class EligibilityRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    cooldown: timedelta = timedelta(days=7)


def last_emailed(client: Client, history: EmailHistory) -> datetime | None:
    """The latest of our own record and the item's lastEmailDate (which an operator or import may have set)."""
    dates = [date for date in (history.last_email_date, client.last_email_date) if date is not None]
    return max(dates, default=None)


def decide(client: Client, score: Score, history: EmailHistory, now: datetime, rules: EligibilityRules) -> Decision:
    """Send only to an at-risk client (score < 50) who wants email and was not emailed within the cooldown."""
    if not score.band.is_at_risk:
        return Decision(send=False, reason=DecisionReason.NOT_AT_RISK)
    if client.opted_out:
        return Decision(send=False, reason=DecisionReason.OPTED_OUT)
    if client.suppressed:
        return Decision(send=False, reason=DecisionReason.SUPPRESSED)
    last = last_emailed(client, history)
    if last is not None and now - last < rules.cooldown:
        return Decision(send=False, reason=DecisionReason.COOLDOWN)
    return Decision(send=True, reason=DecisionReason.ELIGIBLE)
