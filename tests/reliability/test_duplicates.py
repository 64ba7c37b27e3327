"""Duplicates: at-least-once delivery everywhere, so every side effect must happen once.

The same stream batch twice, the same SQS message three times, two email processors racing on one client, two
senders racing on one email: exactly one email per client, sent at most once.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.aws import client as aws_client
from engagement.adapters.store.decisions import DECIDED_PREFIX
from tests.reliability.conftest import Figures, scale
from tests.reliability.harness import InProcessFunction, Pipeline, atomic_requests, scan
from tests.support.events import batch, client_values, message, sqs_record, to_image
from tests.support.handlers import LambdaContext


def at_risk_clients(count: int, prefix: str = "u") -> list[dict[str, Any]]:
    return [to_image(client_values(f"{prefix}-{i}", name=f"Client {i}", engagementScore=20)) for i in range(count)]


def good_clients(count: int) -> list[dict[str, Any]]:
    return [to_image(client_values(f"g-{i}", name=f"Good {i}", engagementScore=90)) for i in range(count)]


def emails_per_client(pipeline: Pipeline) -> Counter[str]:
    return Counter(email["userId"] for email in pipeline.emails())


def eligible_decisions(pipeline: Pipeline) -> int:
    """The decided_eligible counter the overview shows: it must count each email once, however often it is seen."""
    return pipeline.counters().get(DECIDED_PREFIX + "eligible", 0)


class DeliveredTwice(InProcessFunction):
    """Lambda may invoke a function with the same stream batch again (a retry after a timeout it did not see)."""

    def invoke(self, event: dict[str, Any]) -> Any:
        super().invoke(json.loads(json.dumps(event)))
        return super().invoke(event)


def test_the_same_stream_batch_delivered_twice_makes_one_email_per_client(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures
) -> None:
    pipeline = Pipeline(aws, load_handler)
    stream_function = pipeline.functions["stream_processor"]
    pipeline.stream_poller.function = DeliveredTwice(stream_function.name, stream_function.module)  # type: ignore[assignment]
    at_risk = scale(20, 200)
    pipeline.put_clients(at_risk_clients(at_risk) + good_clients(at_risk // 2))

    pipeline.drain()

    per_client = emails_per_client(pipeline)
    assert len(per_client) == at_risk  # nobody lost
    assert set(per_client.values()) == {1}  # nobody doubled
    assert eligible_decisions(pipeline) == at_risk  # and the overview's counter is not doubled either
    assert pipeline.dead_letters("email-requests-dlq") == []
    figures.record(events_in=2 * (at_risk + at_risk // 2), emails_out=sum(per_client.values()),
                   duplicates=sum(per_client.values()) - len(per_client), lost=at_risk - len(per_client),
                   dead_lettered=0)  # fmt: skip


def test_the_same_sqs_message_three_times_makes_one_email(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures
) -> None:
    pipeline = Pipeline(aws, load_handler)
    clients = at_risk_clients(scale(10, 100))
    pipeline.put_clients(clients)
    queue = pipeline.deployed.queue_urls["email-requests"]
    for item in clients:  # three copies of each event: SNS and SQS both deliver at least once
        body = message(item, f"evt-{item['userId']['S']}")["body"]
        for _ in range(3):
            aws["sqs"].send_message(QueueUrl=queue, MessageBody=body)

    while pipeline.receive_cycle():
        pass

    per_client = emails_per_client(pipeline)
    assert len(per_client) == len(clients)
    assert set(per_client.values()) == {1}
    assert eligible_decisions(pipeline) == len(clients)
    emails_out = sum(per_client.values())
    figures.record(events_in=3 * len(clients), emails_out=emails_out, duplicates=emails_out - len(per_client),
                   lost=len(clients) - len(per_client))  # fmt: skip


def test_two_email_processors_racing_on_one_client_make_one_email(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures
) -> None:
    processors = [load_handler("email_processor"), load_handler("email_processor")]  # two execution environments
    assert processors[0] is not processors[1]
    rounds = scale(10, 50)
    outcomes: list[Any] = []
    for round_ in range(rounds):
        item = at_risk_clients(1, prefix=f"race{round_}")[0]
        aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=item)
        # Two different events about one client (a create and an update), each to its own processor, at once.
        events = [message(item, f"evt-{round_}-a"), message(item, f"evt-{round_}-b")]

        def handle(processor: ModuleType, event: dict[str, Any]) -> None:
            outcomes.append(processor.lambda_handler(batch(event), LambdaContext()))

        threads = [threading.Thread(target=handle, args=pair) for pair in zip(processors, events, strict=True)]
        with atomic_requests():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    per_client = Counter(email["userId"] for email in scan(aws["dynamodb"], aws["deployed"].tables["emails"]))
    assert len(per_client) == rounds
    assert set(per_client.values()) == {1}
    assert all(outcome == {"batchItemFailures": []} for outcome in outcomes)  # the loser recorded a cooldown skip
    reasons = Counter(item.get("reason") for item in scan(aws["dynamodb"], aws["deployed"].tables["decisions"])
                      if item["userId"].startswith("race"))  # fmt: skip
    assert reasons["eligible"] == rounds
    assert reasons["cooldown"] == rounds
    figures.record(races=rounds, emails_out=sum(per_client.values()), duplicates=sum(per_client.values()) - rounds)


def test_two_senders_racing_on_one_email_send_it_once(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    """A reviewer's approval and the scheduled sender (which also picks up APPROVED emails a stopped sender left)
    race on the same email; SES must be called once."""
    processor = load_handler("email_processor")
    api = load_handler("api")
    sender = load_handler("scheduled_sender")
    rounds = scale(5, 30)
    sent: list[str] = []
    ses = aws_client("sesv2", attempts=1)  # the process's SES client, which both functions send through
    real = ses.send_email

    def send_email(**request: Any) -> Any:
        sent.append(request["EmailTags"][0]["Value"])
        return real(**request)

    monkeypatch.setattr(ses, "send_email", send_email)

    for round_ in range(rounds):
        item = at_risk_clients(1, prefix=f"send{round_}")[0]
        aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=item)
        processor.lambda_handler(batch(message(item, f"evt-send-{round_}")), LambdaContext())
        [email_id] = [e["emailId"] for e in scan(aws["dynamodb"], aws["deployed"].tables["emails"])
                      if e["userId"] == item["userId"]["S"]]  # fmt: skip

        def approve(email_id: str = email_id) -> None:
            with contextlib.suppress(Exception):  # the loser is told it moved (409): what counts is SES below
                api.services.delivery.approve(email_id, by="operator:ana")

        def sweep() -> None:
            sender.services.delivery.send_due()

        threads = [threading.Thread(target=approve), threading.Thread(target=approve), threading.Thread(target=sweep)]
        with atomic_requests():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    statuses = Counter(e["status"] for e in scan(aws["dynamodb"], aws["deployed"].tables["emails"]))
    assert statuses == {"SENT": rounds}
    assert len(sent) == len(set(sent)) == rounds  # each email reached SES exactly once
    figures.record(races=rounds, ses_calls=len(sent), duplicates=len(sent) - len(set(sent)))


def test_a_redelivered_email_request_after_the_email_was_sent_does_not_send_again(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DELIVERY_MODE=auto: the message that wrote and sent the email comes back (its delete was lost)."""
    processor = load_handler("email_processor", DELIVERY_MODE="auto")
    [item] = at_risk_clients(1)
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=item)
    sent: list[str] = []
    ses = aws_client("sesv2", attempts=1)
    real = ses.send_email

    def send_email(**request: Any) -> Any:
        sent.append(request["EmailTags"][0]["Value"])
        return real(**request)

    monkeypatch.setattr(ses, "send_email", send_email)
    body = message(item, "evt-auto")["body"]

    for receive in (1, 2, 3):
        assert processor.lambda_handler(batch(sqs_record(body, message_id="m-1", receive_count=receive)),
                                        LambdaContext()) == {"batchItemFailures": []}  # fmt: skip

    [email] = scan(aws["dynamodb"], aws["deployed"].tables["emails"])
    assert email["status"] == "SENT"
    assert len(sent) == 1
