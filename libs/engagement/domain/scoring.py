"""Engagement scoring: pure functions from a client's facts to a Score with its explanation.

The built-in model adds three parts, each monotone in its fact:

- recency   up to 55 points: full within 30 days of the last order, falling linearly to 0 at 180 days;
- frequency up to 25 points: grows with the number of orders, full at 20;
- value     up to 20 points: grows with the average order value, full at 500.

With no order for 180 days or more the recency part is 0, so the score is at most 45: below 50 (at risk) whatever
the client's history. A client who never ordered is measured from when they joined (createdAt), so a new sign-up
is not treated as lapsed.

When the shop's churn model is fitted (engagement.domain.churn_model), it judges every client with an order history
instead: the score is P(alive) on 0-100, the source `model`, and the rhythm says it in words; the bands and the
risk threshold stay. A provided engagementScore wins over both; the system's own view travels with it.
"""

from __future__ import annotations

import math
from datetime import datetime

from engagement.domain.churn_model import ChurnModel, judge, score_of
from engagement.domain.models import Band, Client, Score, ScoreFactor, ScoreSource

RECENCY_POINTS = 55.0
FREQUENCY_POINTS = 25.0
VALUE_POINTS = 20.0
RECENCY_FULL_DAYS = 30
RECENCY_ZERO_DAYS = 180
FREQUENCY_FULL_ORDERS = 20
VALUE_FULL_AMOUNT = 500.0

AT_RISK_BELOW = 50


def band_for(value: float) -> Band:
    """critical < 25 <= at_risk < 50 <= moderate < 75 <= good."""
    if value < 25:
        return Band.CRITICAL
    if value < AT_RISK_BELOW:
        return Band.AT_RISK
    if value < 75:
        return Band.MODERATE
    return Band.GOOD


def days_since(instant: datetime, now: datetime) -> float:
    """Whole and fractional days from instant to now; a future instant counts as now."""
    return max(0.0, (now - instant).total_seconds() / 86_400)


def _recency(client: Client, now: datetime) -> ScoreFactor:
    if client.last_order_date is not None:
        days = days_since(client.last_order_date, now)
        subject = "last order"
    elif client.created_at is not None:
        days = days_since(client.created_at, now)
        subject = "joined, no order yet,"
    else:
        return ScoreFactor(
            factor="recency", points=0.0, max_points=RECENCY_POINTS, explanation="no order and no join date"
        )
    if days <= RECENCY_FULL_DAYS:
        points = RECENCY_POINTS
    elif days >= RECENCY_ZERO_DAYS:
        points = 0.0
    else:
        points = RECENCY_POINTS * (RECENCY_ZERO_DAYS - days) / (RECENCY_ZERO_DAYS - RECENCY_FULL_DAYS)
    return ScoreFactor(
        factor="recency",
        points=round(points, 1),
        max_points=RECENCY_POINTS,
        explanation=f"{subject} {int(days)} days ago",
    )


def _saturating(amount: float, full_at: float) -> float:
    """0 at 0, 1 at full_at and beyond, logarithmic in between (the first orders matter most)."""
    if amount <= 0:
        return 0.0
    return min(1.0, math.log1p(amount) / math.log1p(full_at))


def _frequency(client: Client) -> ScoreFactor:
    points = FREQUENCY_POINTS * _saturating(client.order_count, FREQUENCY_FULL_ORDERS)
    orders = "1 order" if client.order_count == 1 else f"{client.order_count} orders"
    return ScoreFactor(factor="frequency", points=round(points, 1), max_points=FREQUENCY_POINTS, explanation=orders)


def _value(client: Client) -> ScoreFactor:
    points = VALUE_POINTS * _saturating(client.average_order_value, VALUE_FULL_AMOUNT)
    return ScoreFactor(
        factor="value",
        points=round(points, 1),
        max_points=VALUE_POINTS,
        explanation=f"average order {client.average_order_value:.2f}",
    )


def computed_score(client: Client, now: datetime) -> tuple[int, tuple[ScoreFactor, ...]]:
    """The built-in model's value (0-100) and its breakdown."""
    breakdown = (_recency(client, now), _frequency(client), _value(client))
    return round(sum(part.points for part in breakdown)), breakdown


def score_client(client: Client, now: datetime, model: ChurnModel | None = None) -> Score:
    """The client's score: provided, else the churn model's (when it can judge them), else the rule score's."""
    rule_value, breakdown = computed_score(client, now)
    judged = judge(client, model, now)
    rhythm, note = (judged, None) if not isinstance(judged, str) else (None, judged)
    own_value, own_source = (score_of(rhythm), ScoreSource.MODEL) if rhythm else (rule_value, ScoreSource.COMPUTED)
    provided = client.engagement_score
    value, source = (provided, ScoreSource.PROVIDED) if provided is not None else (own_value, own_source)
    return Score(value=value, band=band_for(value), source=source, computed_value=own_value, breakdown=breakdown,
                 rhythm=rhythm, note=note)  # fmt: skip
