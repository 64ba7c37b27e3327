"""Outages: the LLM answers 503 or times out for longer than several receive cycles, SES throttles at send time.
After recovery every eligible client has exactly one email, nothing is lost, and a DLQ redrive recovers what
waited there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engagement.adapters.aws import client as aws_client
from tests.fakes.llm_server import FakeLLM, Reply, running
from tests.reliability.conftest import Figures, scale
from tests.reliability.harness import Pipeline
from tests.support.clock import FixedClock
from tests.support.events import client_values, to_image
from tests.support.handlers import LambdaContext

KEY = "sk-or-v1-reliability-test-key-0123456789"
DOWN = Reply(status=503, body={"error": {"message": "upstream unavailable"}})


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with running(FakeLLM()) as server:
        yield server


def llm_pipeline(aws: dict[str, Any], load_handler: Callable[..., ModuleType], llm: FakeLLM, **env: str) -> Pipeline:
    return Pipeline(aws, load_handler, OPENROUTER_API_KEY=KEY, LLM_BASE_URL=llm.base_url, LLM_MAX_RETRIES="0",
                    **env)  # fmt: skip


def at_risk(count: int) -> list[dict[str, Any]]:
    return [to_image(client_values(f"c-{i}", name=f"Client {i}", engagementScore=20)) for i in range(count)]


def writers(pipeline: Pipeline) -> Counter[str]:
    return Counter(email["writer"] for email in pipeline.emails())


def test_an_llm_outage_longer_than_the_retries_is_recovered_by_redrive_with_one_email_each(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], llm: FakeLLM, figures: Figures
) -> None:
    """With the last-receive fallback off, an outage outlasting maxReceiveCount parks the requests in the DLQ."""
    pipeline = llm_pipeline(aws, load_handler, llm, LLM_FALLBACK_ON_LAST_RECEIVE="false")
    clients = at_risk(scale(10, 60))
    llm.default = DOWN
    pipeline.put_clients(clients)

    pipeline.drain()  # every receive fails; after 5 receives each request is in the DLQ

    assert pipeline.emails() == []
    parked = pipeline.dead_letters("email-requests-dlq")
    assert len(parked) == len(clients)
    calls_during_outage = len(llm.received)

    llm.default = Reply()  # the provider is back; the operator redrives, as from the dashboard
    api = load_handler("api")
    moved = api.services.pipeline.redrive("email-requests-dlq", limit=1000)
    pipeline.drain()

    assert moved == {"moved": len(clients), "remaining": 0}
    per_client = Counter(email["userId"] for email in pipeline.emails())
    assert len(per_client) == len(clients)
    assert set(per_client.values()) == {1}
    assert writers(pipeline) == {"llm": len(clients)}
    assert pipeline.dead_letters("email-requests-dlq") == []
    figures.record(clients=len(clients), llm_calls_during_outage=calls_during_outage, dead_lettered=len(parked),
                   redriven=moved["moved"], emails_out=len(pipeline.emails()), duplicates=0,
                   lost=len(clients) - len(per_client))  # fmt: skip


def test_an_llm_outage_with_the_fallback_on_ends_in_marked_template_emails(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], llm: FakeLLM, figures: Figures
) -> None:
    """The default: four receives wait for the provider, the last one writes the marked template email."""
    pipeline = llm_pipeline(aws, load_handler, llm)
    clients = at_risk(scale(10, 60))
    llm.default = DOWN
    pipeline.put_clients(clients)

    pipeline.drain()

    per_client = Counter(email["userId"] for email in pipeline.emails())
    assert len(per_client) == len(clients)
    assert set(per_client.values()) == {1}
    assert all(email["writer"] == "template" and email["fallbackReason"].startswith("provider unavailable")
               for email in pipeline.emails())  # fmt: skip
    assert pipeline.dead_letters("email-requests-dlq") == []
    receives = Counter(report.size for report in pipeline.reports if report.function == "email_processor")
    figures.record(clients=len(clients), llm_calls=len(llm.received), batches=sum(receives.values()),
                   emails_out=len(pipeline.emails()), fallbacks=len(pipeline.emails()), dead_lettered=0,
                   lost=0)  # fmt: skip


def test_llm_timeouts_for_several_receives_then_recovery_make_one_llm_email_each(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], llm: FakeLLM, figures: Figures
) -> None:
    pipeline = llm_pipeline(aws, load_handler, llm, LLM_TIMEOUT_S="0.3")
    clients = at_risk(scale(4, 20))
    llm.default = Reply(delay=1.0)  # answers, but after the client gave up
    pipeline.put_clients(clients)
    pipeline.stream_cycle()  # the events reach the queue

    for _ in range(3):  # three receive cycles time out: each message is back for another try
        assert pipeline.receive_cycle()
    assert pipeline.emails() == []
    llm.default = Reply()  # the provider recovers before the last receive
    pipeline.drain()

    per_client = Counter(email["userId"] for email in pipeline.emails())
    assert len(per_client) == len(clients)
    assert set(per_client.values()) == {1}
    assert writers(pipeline) == {"llm": len(clients)}
    assert pipeline.dead_letters("email-requests-dlq") == []
    figures.record(clients=len(clients), timed_out_cycles=3, emails_out=len(pipeline.emails()), duplicates=0, lost=0)


def test_ses_throttling_at_send_time_defers_and_every_email_goes_exactly_once(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures
) -> None:
    pipeline = Pipeline(aws, load_handler)
    clock = FixedClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    api, sender = load_handler("api", clock=clock), load_handler("scheduled_sender", clock=clock)
    clients = at_risk(scale(10, 100))
    pipeline.put_clients(clients)
    pipeline.drain()
    drafts = [email["emailId"] for email in pipeline.emails()]
    assert len(drafts) == len(clients)

    ses = aws_client("sesv2", attempts=1)  # the process's SES client, which both functions send through
    real_send = ses.send_email
    throttling = {"on": True}
    accepted: list[str] = []
    refused = 0

    def send_email(**request: Any) -> Any:
        nonlocal refused
        if throttling["on"]:
            refused += 1
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate"}},
                              "SendEmail")  # fmt: skip
        accepted.append(request["EmailTags"][0]["Value"])
        return real_send(**request)

    ses.send_email = send_email
    try:
        for email_id in drafts:  # the reviewer approves everything while SES throttles
            api.services.delivery.approve(email_id, by="operator:ana")
        for _ in range(2):  # the throttling lasts through two scheduler runs
            clock.advance(timedelta(minutes=10))
            sender.lambda_handler({"action": "send-due"}, LambdaContext())
        throttling["on"] = False
        for _ in range(3):  # SES is back; later runs find nothing left to send
            clock.advance(timedelta(minutes=10))
            sender.lambda_handler({"action": "send-due"}, LambdaContext())
    finally:
        ses.send_email = real_send

    statuses = Counter(email["status"] for email in pipeline.emails())
    assert statuses == {"SENT": len(drafts)}
    assert sorted(accepted) == sorted(drafts)  # each email reached SES once, and only once
    figures.record(emails=len(drafts), ses_throttled_calls=refused, ses_sends=len(accepted),
                   duplicates=len(accepted) - len(set(accepted)), lost=len(drafts) - len(set(accepted)))  # fmt: skip
