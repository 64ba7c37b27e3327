from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.domain.models import Band, Client, ScoreSource
from engagement.domain.scoring import band_for, score_client

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

days = st.floats(min_value=0, max_value=3000, allow_nan=False)
orders = st.integers(min_value=0, max_value=500)
amounts = st.floats(min_value=0, max_value=10_000, allow_nan=False)


def client(days_since_order: float | None, order_count: int, average_order_value: float, **extra: object) -> Client:
    last_order = None if days_since_order is None else NOW - timedelta(days=days_since_order)
    return Client.model_validate(
        {
            "userId": "u-1",
            "email": "u-1@example.com",
            "lastOrderDate": last_order,
            "orderCount": order_count,
            "averageOrderValue": average_order_value,
            **extra,
        }
    )


@given(days, days, orders, amounts)
def test_a_more_recent_order_never_lowers_the_score(a: float, b: float, count: int, value: float) -> None:
    recent, older = sorted((a, b))
    assert score_client(client(recent, count, value), NOW).value >= score_client(client(older, count, value), NOW).value


@given(days, orders, orders, amounts)
def test_more_orders_never_lower_the_score(since: float, a: int, b: int, value: float) -> None:
    fewer, more = sorted((a, b))
    assert score_client(client(since, more, value), NOW).value >= score_client(client(since, fewer, value), NOW).value


@given(days, orders, amounts, amounts)
def test_a_higher_order_value_never_lowers_the_score(since: float, count: int, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert score_client(client(since, count, high), NOW).value >= score_client(client(since, count, low), NOW).value


@given(st.floats(min_value=180, max_value=5000, allow_nan=False), orders, amounts)
def test_no_order_for_180_days_is_at_risk_whatever_the_history(since: float, count: int, value: float) -> None:
    score = score_client(client(since, count, value), NOW)
    assert score.value < 50
    assert score.band.is_at_risk


@given(days, orders, amounts)
def test_score_stays_within_0_and_100_and_matches_its_band(since: float, count: int, value: float) -> None:
    score = score_client(client(since, count, value), NOW)
    assert 0 <= score.value <= 100
    assert score.band is band_for(score.value)
    assert score.value == pytest.approx(sum(part.points for part in score.breakdown), abs=0.51)


def test_a_loyal_recent_client_is_good() -> None:
    score = score_client(client(3, 25, 300), NOW)
    assert score.band is Band.GOOD
    assert score.source is ScoreSource.COMPUTED


def test_the_breakdown_explains_each_part_in_words() -> None:
    score = score_client(client(45, 1, 120), NOW)
    explanations = {part.factor: part.explanation for part in score.breakdown}
    assert explanations == {
        "recency": "last order 45 days ago",
        "frequency": "1 order",
        "value": "average order 120.00",
    }


def test_a_provided_engagement_score_wins_and_the_model_still_explains() -> None:
    score = score_client(client(1, 30, 400, engagementScore=30), NOW)
    assert (score.value, score.band, score.source) == (30, Band.AT_RISK, ScoreSource.PROVIDED)
    assert score.computed_value >= 75  # the built-in model would have said good
    assert len(score.breakdown) == 3


def test_a_provided_score_just_below_50_is_at_risk() -> None:
    assert score_client(client(1, 30, 400, engagementScore=49.6), NOW).band is Band.AT_RISK


def test_a_new_sign_up_with_no_order_is_measured_from_joining() -> None:
    newcomer = client(None, 0, 0, createdAt=NOW - timedelta(days=5))
    assert score_client(newcomer, NOW).breakdown[0].points == 55
    old_never_ordered = client(None, 0, 0, createdAt=NOW - timedelta(days=400))
    assert score_client(old_never_ordered, NOW).band is Band.CRITICAL


def test_an_order_dated_in_the_future_counts_as_today() -> None:
    assert score_client(client(-10, 3, 50), NOW).breakdown[0].points == 55


@pytest.mark.parametrize(
    ("value", "band"),
    [(0, Band.CRITICAL), (24.9, Band.CRITICAL), (25, Band.AT_RISK), (49.9, Band.AT_RISK), (50, Band.MODERATE),
     (74.9, Band.MODERATE), (75, Band.GOOD), (100, Band.GOOD)],
)  # fmt: skip
def test_band_boundaries(value: float, band: Band) -> None:
    assert band_for(value) is band
