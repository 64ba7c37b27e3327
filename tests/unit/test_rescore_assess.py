"""What the sweep does for one client: publish for a band change or a win-back retry, or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engagement.clock import format_instant
from engagement.domain.models import Client
from engagement.domain.scoring import score_client
from engagement.domain.sweep import RescoreRules, Verdict, assess

NOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)
TODAY = "2027-06-01"
RULES = RescoreRules(cooldown=timedelta(days=7), max_attempts=3)
LAST_ORDER = NOW - timedelta(days=170)  # at risk by the built-in model


def client(**values: Any) -> Client:
    facts = {"userId": "ada", "email": "ada@example.com", "orderCount": 20, "averageOrderValue": 500,
             "lastOrderDate": format_instant(LAST_ORDER), "band": "at_risk"}  # fmt: skip
    return Client.model_validate({**facts, **values})


def verdict(**values: Any) -> Verdict | None:
    subject = client(**values)
    return assess(subject, score_client(subject, NOW), NOW, TODAY, RULES)


def days_ago(days: int) -> str:
    return format_instant(NOW - timedelta(days=days))


def test_a_band_change_is_published_and_counts_as_an_attempt_when_it_is_into_risk() -> None:
    assert verdict(band="moderate") == Verdict("band_changed", 1, format_instant(LAST_ORDER))
    assert verdict(band="good", engagementScore=60) == Verdict("band_changed", 0, format_instant(LAST_ORDER))


def test_an_emailed_at_risk_client_is_tried_again_once_the_cooldown_has_passed() -> None:
    assert verdict(lastEmailDate=days_ago(3)) is None  # still in the cooldown
    assert verdict(lastEmailDate=days_ago(8)) == Verdict("cooldown_over", 2, format_instant(LAST_ORDER))


@pytest.mark.parametrize(
    "values",
    [
        {"lastEmailDate": None},  # never emailed: skipped for another reason, which time does not change
        {"lastEmailDate": days_ago(8), "optedOut": True},
        {"lastEmailDate": days_ago(8), "suppressed": True},
        {"lastEmailDate": days_ago(8), "rescoredOn": TODAY},  # published already today
        {"lastEmailDate": days_ago(8), "winbackLapse": format_instant(LAST_ORDER), "winbackAttempts": 3},
        {"band": "good", "engagementScore": 90},  # stays good: nothing to say
    ],
)
def test_nothing_is_published_when_nothing_calls_for_it(values: dict[str, Any]) -> None:
    assert verdict(**values) is None


def test_a_new_order_starts_a_new_lapse_with_fresh_attempts() -> None:
    spent = {"winbackLapse": days_ago(400), "winbackAttempts": 3, "lastEmailDate": days_ago(8)}
    assert verdict(**spent) == Verdict("cooldown_over", 2, format_instant(LAST_ORDER))  # the email counts as one


def test_a_risk_band_reached_with_the_attempts_spent_is_stored_not_published() -> None:
    spent = {"winbackLapse": format_instant(LAST_ORDER), "winbackAttempts": 3, "band": "moderate"}
    outcome = verdict(**spent)
    assert outcome is not None
    assert (outcome.reason, outcome.publish) == ("band_changed", False)
