"""The rescoring sweep on moto, behind its segment queue, with the stream and email processors downstream and one
clock for all of them (as the local mode's simulated time)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from engagement.clock import ShiftedClock, format_instant
from engagement.domain.models import EngagementEvent
from engagement.domain.sweep import SegmentTask
from tests.reliability.harness import Pipeline, scan
from tests.support.clock import FixedClock
from tests.support.events import client_values, to_image
from tests.support.handlers import LambdaContext

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def pipeline(aws: dict[str, Any], load_handler: Callable[..., ModuleType], clock: FixedClock) -> Pipeline:
    pipeline = Pipeline(aws, load_handler)
    pipeline.use_clock(clock)
    return pipeline


@pytest.fixture
def published(pipeline: Pipeline) -> list[EngagementEvent]:
    """Every event the sweep publishes."""
    events: list[EngagementEvent] = []
    publisher = pipeline.rescore.services.sweep.publisher
    real = publisher.publish

    def publish(batch: list[EngagementEvent]) -> Any:
        events.extend(batch)
        return real(batch)

    publisher.publish = publish
    return events


def loyal(user_id: str, **values: Any) -> dict[str, Any]:
    """Ordered 20 days ago, often and a lot: good today, at risk once 200 days have passed with no order."""
    facts = {"lastOrderDate": format_instant(NOW - timedelta(days=20)), "orderCount": 20, "averageOrderValue": 500}
    return to_image(client_values(user_id, **{**facts, **values}))


def drafts_for(pipeline: Pipeline, user_id: str) -> list[dict[str, Any]]:
    return [email for email in pipeline.emails() if email["userId"] == user_id]


def test_a_good_client_who_stops_ordering_is_found_at_risk_and_gets_a_draft(
    pipeline: Pipeline, clock: FixedClock, published: list[EngagementEvent]
) -> None:
    pipeline.put_clients([loyal("ada"), loyal("steady", engagementScore=80)])
    pipeline.drain()
    assert pipeline.client("ada")["band"] == "good"
    assert pipeline.emails() == []

    clock.advance(timedelta(days=200))  # no write at all in the meantime
    started = pipeline.sweep()

    assert started == {
        "started": True, "runDate": "2027-06-16", "now": "2027-06-16T09:00:00.000Z", "segments": 4,
        "churnModel": {"version": "2027-06-16T09:00:00.000Z", "status": "insufficient", "variant": "mbgnbd",
                       "clients": 0, "repeatBuyers": 0,  # no order history (firstOrderDate) in these clients
                       "reason": "too little data for a churn model: 0 clients with a repeat order, 200 needed"},
        "coPurchases": {"version": "2027-06-16T09:00:00.000Z", "builtAt": "2027-06-16T09:00:00.000Z", "orders": 0,
                        "clients": 0, "products": 0, "complete": True},  # these clients have no orders
    }  # fmt: skip
    assert [(event.client.user_id, event.type.value, event.score.band.value) for event in published] == [
        ("ada", "client.rescored", "at_risk")
    ]  # the steady client's band (its engagementScore) did not change: nothing published for it
    [draft] = drafts_for(pipeline, "ada")
    assert draft["status"] == "PENDING_REVIEW"
    ada = pipeline.client("ada")
    assert (ada["band"], ada["rescoredOn"], ada["winbackAttempts"]) == ("at_risk", "2027-06-16", 1)
    assert "engagementScore" not in ada  # the computed score has attributes of its own
    assert pipeline.client("steady")["engagementScore"] == 80
    # The sweep's and the email processor's writes on ada went through the stream too, and made no event: the
    # email processor decided once, on the sweep's event.
    decided = [item for item in scan(pipeline.aws["dynamodb"], pipeline.deployed.tables["decisions"])
               if item["userId"] == "ada" and item.get("reason")]  # fmt: skip
    assert [(item["eventType"], item["reason"]) for item in decided] == [("client.rescored", "eligible")]


def test_a_second_run_on_the_same_day_publishes_nothing_new(
    pipeline: Pipeline, clock: FixedClock, published: list[EngagementEvent]
) -> None:
    pipeline.put_clients([loyal(f"c-{i}") for i in range(6)])
    pipeline.drain()
    clock.advance(timedelta(days=200))
    pipeline.sweep()
    first = len(published)

    clock.advance(timedelta(hours=5))  # the schedule fires again (a retry, or someone ran make rescore)
    pipeline.sweep()

    assert first == 6
    assert len(published) == first
    assert len(pipeline.emails()) == 6


def test_the_schedule_starts_no_second_run_while_the_last_one_is_still_going(
    pipeline: Pipeline, clock: FixedClock, published: list[EngagementEvent], aws: dict[str, Any]
) -> None:
    pipeline.put_clients([loyal(f"c-{i}") for i in range(3)])
    pipeline.drain()
    clock.advance(timedelta(days=200))
    segments = pipeline.deployed.queue_urls["rescore-segments"]
    first = pipeline.rescore.lambda_handler({"action": "rescore"}, LambdaContext())

    clock.advance(timedelta(days=1))  # the next day's schedule, while yesterday's segments still wait
    second = pipeline.rescore.lambda_handler({"action": "rescore"}, LambdaContext())

    assert (first["started"], second["started"], second["pendingTasks"]) == (True, False, 4)
    depth = aws["sqs"].get_queue_attributes(QueueUrl=segments, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "4"  # the first run's tasks only
    pipeline.drain()
    assert sorted(event.client.user_id for event in published) == ["c-0", "c-1", "c-2"]  # each once
    assert pipeline.sweep()["started"]  # once the last run is done, the next one starts


def test_a_segment_that_runs_out_of_time_checkpoints_and_the_rest_is_done_once(
    pipeline: Pipeline, clock: FixedClock, published: list[EngagementEvent], aws: dict[str, Any]
) -> None:
    pipeline.put_clients([loyal(f"c-{i:02}") for i in range(9)])
    pipeline.drain()
    clock.advance(timedelta(days=200))
    sweep = pipeline.rescore.services.sweep
    sweep.page_size = 2
    task = SegmentTask(run_date="2027-06-16", now=clock.now(), segment=0, total_segments=1)
    budget = iter([70.0, 60.0, 5.0])  # at the start; after a 10 s page; then too little: the invocation is ending

    report = sweep.run_segment(task, time_left=lambda: next(budget))

    assert (report.scanned, report.checkpointed) == (4, True)
    [continuation] = aws["sqs"].receive_message(QueueUrl=pipeline.deployed.queue_urls["rescore-segments"],
                                                VisibilityTimeout=0)["Messages"]  # fmt: skip
    assert json.loads(continuation["Body"])["startKey"]  # where the scan stands
    pipeline.drain()  # the continuation runs in a new invocation
    assert sorted(event.client.user_id for event in published) == [f"c-{i:02}" for i in range(9)]  # each once
    assert len(pipeline.emails()) == 9


def test_a_segment_checkpoints_early_when_its_next_page_might_not_fit_in_the_time_left(
    pipeline: Pipeline, clock: FixedClock, published: list[EngagementEvent]
) -> None:
    pipeline.put_clients([loyal(f"c-{i:02}") for i in range(9)])
    pipeline.drain()
    clock.advance(timedelta(days=200))
    sweep = pipeline.rescore.services.sweep
    sweep.page_size = 2
    task = SegmentTask(run_date="2027-06-16", now=clock.now(), segment=0, total_segments=1)
    budget = iter([100.0, 60.0])  # the first page took 40 s (a busy table): 60 s left is not enough for two more

    report = sweep.run_segment(task, time_left=lambda: next(budget))

    assert (report.scanned, report.checkpointed) == (2, True)
    pipeline.drain()
    assert sorted(event.client.user_id for event in published) == [f"c-{i:02}" for i in range(9)]  # each once


def test_win_back_attempts_stop_at_three_per_lapse_and_a_new_order_starts_a_new_one(
    pipeline: Pipeline, clock: FixedClock, published: list[EngagementEvent]
) -> None:
    pipeline.put_clients([loyal("ada", lastOrderDate=format_instant(NOW - timedelta(days=170)))])
    pipeline.drain()  # at risk already: the stream's event brings the first email
    assert len(drafts_for(pipeline, "ada")) == 1
    for _ in range(8):  # weekly sweeps for two months: the cooldown (7 days) passes each time
        clock.advance(timedelta(days=8))
        pipeline.sweep()
    reasons = [event.client.user_id for event in published]
    assert len(reasons) == 2  # attempts 2 and 3; the first was the stream's
    assert pipeline.client("ada")["winbackAttempts"] == 3
    emailed = len(drafts_for(pipeline, "ada"))
    assert emailed <= 3  # the frequency cap may hold one back; never more than the attempts

    pipeline.aws["dynamodb"].update_item(  # a new order: a new lapse (it also lifts ada out of risk for a while)
        TableName=pipeline.deployed.tables["users"], Key={"userId": {"S": "ada"}},
        UpdateExpression="SET lastOrderDate = :d, orderCount = :n",
        ExpressionAttributeValues={":d": {"S": format_instant(clock.now())}, ":n": {"N": "21"}},
    )  # fmt: skip
    pipeline.drain()
    clock.advance(timedelta(days=200))
    pipeline.sweep()
    assert len(published) == 3  # at risk again, in the new lapse: published
    assert pipeline.client("ada")["winbackLapse"] == format_instant(clock.now() - timedelta(days=200))


def test_a_task_that_is_not_a_segment_task_goes_to_the_dlq_with_its_reason(pipeline: Pipeline) -> None:
    queue = pipeline.deployed.queue_urls["rescore-segments"]
    for body in ("{}", "not json", json.dumps({"runDate": "2027-06-16", "now": "2027-06-16T00:00:00Z",
                                                "segment": 4, "totalSegments": 4})):  # fmt: skip
        pipeline.aws["sqs"].send_message(QueueUrl=queue, MessageBody=body)

    pipeline.drain()

    dead = pipeline.dead_letters("rescore-segments-dlq")
    assert len(dead) == 3
    assert all(letter["attributes"]["reason"] and letter["receives"] == 1 for letter in dead)


def test_the_shifted_clock_follows_its_file_from_the_next_reading(tmp_path: Any) -> None:
    """`make rescore NOW=…` writes the shift and at once sends the sweep: a function that read the clock a moment
    before must not judge the sweep's clients by the old time (it once decided a rescored client "not at risk")."""
    offset_file = tmp_path / "clock-offset"
    clock = ShiftedClock(offset_file)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 5  # no file: real time
    offset_file.write_text(f"{timedelta(days=200).total_seconds()}\n")
    assert (clock.now() - datetime.now(UTC)).days in (199, 200)
    offset_file.write_text(f"{timedelta(days=30).total_seconds()}\n")
    assert (clock.now() - datetime.now(UTC)).days in (29, 30)
    offset_file.unlink()
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 5
