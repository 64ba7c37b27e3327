"""The churn model on moto: the sweep's coordinator fits it from the clients' aggregates and stores it, every segment
scores with it, the email processor decides with it; too little data leaves the rule score, saying why."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import format_instant
from engagement.domain import churn
from engagement.domain.churn import Parameters, Variant
from engagement.domain.churn_model import FitSettings
from engagement.services.churn import ChurnFitting
from tests.reliability.harness import Pipeline, scan
from tests.support.clock import FixedClock
from tests.support.events import client_values, to_image

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SHOP = Parameters(r=1.0, alpha=20.0, a=0.6, b=1.8)  # days


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def pipeline(aws: dict[str, Any], load_handler: Callable[..., ModuleType], clock: FixedClock) -> Pipeline:
    pipeline = Pipeline(aws, load_handler)
    pipeline.use_clock(clock)
    return pipeline


def buyer(user_id: str, orders: int, first_days_ago: float, last_days_ago: float, **facts: Any) -> dict[str, Any]:
    first, last = (format_instant(NOW - timedelta(days=days)) for days in (first_days_ago, last_days_ago))
    return to_image(client_values(user_id, orderCount=orders, averageOrderValue=30, firstOrderDate=first,
                                  lastOrderDate=last, **facts))  # fmt: skip


def population(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """Clients whose histories the model's own process drew (their scores provided, so none of them is emailed)."""
    rng = random.Random(seed)
    drawn = churn.draw_histories(Variant.MBGNBD, SHOP, [rng.uniform(365, 1095) for _ in range(count)], rng)
    return [buyer(f"pop-{index}", history.frequency + 1, history.age, history.silence, engagementScore=90)
            for index, history in enumerate(drawn)]  # fmt: skip


def versions(aws: dict[str, Any]) -> list[dict[str, Any]]:
    churn_models = [
        item for item in scan(aws["dynamodb"], aws["deployed"].tables["models"]) if item["model"] == "churn"
    ]
    return sorted(churn_models, key=lambda item: item["version"])


def test_the_sweep_fits_the_model_and_judges_each_client_by_their_own_rhythm(
    pipeline: Pipeline, aws: dict[str, Any]
) -> None:
    fortnightly = buyer("fortnightly", 21, 370, 90)  # silent for six of their gaps
    twice_yearly = buyer("twice-yearly", 5, 850, 120)  # not yet late
    once = buyer("once", 1, 400, 400)  # bought once, long ago: MBG/NBD lets a one-time buyer lapse
    pipeline.put_clients([*population(400), fortnightly, twice_yearly, once])
    pipeline.drain()
    # the rule score: 90 days without an order is not yet at risk, 120 days is, whatever the client's rhythm
    assert (pipeline.client("fortnightly")["band"], pipeline.client("twice-yearly")["band"]) == ("moderate", "at_risk")

    started = pipeline.sweep()

    assert started["churnModel"]["status"] == "fitted"
    [stored] = versions(aws)
    assert stored["variant"] == "mbgnbd"
    assert stored["clients"] == stored["clientsSeen"] == 403
    assert stored["repeatBuyers"] >= 200
    assert all(float(stored[name]) > 0 for name in ("r", "alpha", "a", "b"))
    assert pipeline.client("fortnightly")["band"] in ("at_risk", "critical")
    assert pipeline.client("twice-yearly")["band"] in ("moderate", "good")
    [draft] = [email for email in pipeline.emails() if email["userId"] == "fortnightly"]
    assert draft["status"] == "PENDING_REVIEW"
    decisions = scan(aws["dynamodb"], aws["deployed"].tables["decisions"])
    swept = {item["userId"]: item for item in decisions if item.get("eventType") == "client.rescored"}
    assert (swept["fortnightly"]["reason"], swept["fortnightly"]["scoreSource"]) == ("eligible", "model")
    assert "twice-yearly" not in swept  # no longer at risk: its event is not for the email processor
    assert pipeline.dead_letters("email-requests-dlq") == []
    assert [email["userId"] for email in pipeline.emails() if email["userId"] == "once"] == ["once"]


def test_too_few_repeat_buyers_keep_the_rule_score_and_the_fit_is_tried_again_the_next_day(
    pipeline: Pipeline, aws: dict[str, Any], clock: FixedClock
) -> None:
    pipeline.put_clients(population(30))
    pipeline.drain()

    first = pipeline.sweep()
    assert first["churnModel"]["status"] == "insufficient"
    assert "200 needed" in first["churnModel"]["reason"]
    pipeline.sweep()  # the same day: nothing refitted
    assert len(versions(aws)) == 1

    pipeline.put_clients(population(400, seed=6))
    clock.advance(timedelta(days=1))
    assert pipeline.sweep()["churnModel"]["status"] == "fitted"
    clock.advance(timedelta(days=1))
    pipeline.sweep()  # fitted yesterday: refitted weekly
    assert [item["status"] for item in versions(aws)] == ["insufficient", "fitted"]
    clock.advance(timedelta(days=7))
    pipeline.sweep()
    assert [item["status"] for item in versions(aws)] == ["insufficient", "fitted", "fitted"]


def test_a_large_table_is_fitted_on_a_bounded_sample_that_says_so(aws: dict[str, Any]) -> None:
    for item in population(300):
        aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=item)
    models = ChurnModelRepository(aws["deployed"].tables["models"], aws["dynamodb"])
    fitting = ChurnFitting(users=UserRepository(aws["deployed"].tables["users"], aws["dynamodb"]), models=models,
                           settings=FitSettings(max_clients=100, min_repeat_buyers=20))  # fmt: skip

    model = fitting.refit(NOW)

    assert (model.clients, model.clients_seen, model.sampled) == (100, 300, True)
    assert models.newest() == model
