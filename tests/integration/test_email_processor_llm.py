"""The email processor with the LLM writer on: moto for AWS, a local OpenAI-compatible server for the LLM."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.store.dynamo import from_item
from engagement.writer.prompt import PROMPT_VERSION
from tests.fakes.llm_server import FakeLLM, Reply, running
from tests.support.events import batch, client_values, message, sqs_record, to_image

KEY = "sk-or-v1-handler-test-key-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with running(FakeLLM()) as server:
        yield server


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType], fake: FakeLLM) -> ModuleType:
    return load_handler(
        "email_processor", OPENROUTER_API_KEY=KEY, LLM_BASE_URL=fake.base_url, LLM_MAX_RETRIES="1", LLM_TIMEOUT_S="5"
    )


def put_clients(aws: dict[str, Any], count: int) -> list[dict[str, Any]]:
    items = [to_image(client_values(f"u-{i}", name=f"Client {i}", engagementScore=20)) for i in range(count)]
    for item in items:
        aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=item)
    return items


def emails(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return [from_item(i) for i in aws["dynamodb"].scan(TableName=aws["deployed"].tables["emails"])["Items"]]


def test_with_a_key_the_llm_writes_and_the_email_records_model_tokens_and_cost(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    [item] = put_clients(aws, 1)

    assert handler.lambda_handler(batch(message(item)), lambda_context) == {"batchItemFailures": []}

    [email] = emails(aws)
    assert (email["writer"], email["model"], email["promptVersion"]) == ("llm", "openai/gpt-4o-mini", PROMPT_VERSION)
    assert (email["promptTokens"], email["completionTokens"]) == (420, 180)
    assert float(email["estimatedCostUsd"]) == pytest.approx((420 * 0.15 + 180 * 0.60) / 1e6)
    assert email["subject"] == "We saved some new pieces for you"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    metrics = emf[-1]
    assert metrics["LLMPromptTokens"] == [420.0]
    assert metrics["LLMCostMicroUSD"] == [171.0]
    assert metrics["EmailsDrafted"] == [1.0]


def test_the_messages_of_a_batch_are_written_concurrently(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, fake: FakeLLM
) -> None:
    fake.latency = 0.3
    items = put_clients(aws, 10)

    assert handler.lambda_handler(batch(*(message(i, f"evt-{n}") for n, i in enumerate(items))), lambda_context) == {
        "batchItemFailures": []
    }

    assert len(emails(aws)) == 10
    assert fake.most_in_flight == 10  # all ten LLM calls were open at once, not one after the other


def test_an_outage_leaves_messages_for_redelivery_and_the_last_receive_falls_back(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, fake: FakeLLM
) -> None:
    fake.default = Reply(status=503, body={"error": {"message": "down"}})
    first, second = put_clients(aws, 2)
    early = message(first, "evt-1", message_id="m-early", receive_count=2)
    last = message(second, "evt-2", message_id="m-last", receive_count=5)  # maxReceiveCount: no redelivery after

    assert handler.lambda_handler(batch(early, last), lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "m-early"}]
    }

    [email] = emails(aws)
    assert email["userId"] == "u-1"
    assert email["writer"] == "template"
    assert email["fallbackReason"].startswith("provider unavailable")


def test_the_same_message_three_times_during_an_outage_and_after_makes_one_email(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, fake: FakeLLM
) -> None:
    [item] = put_clients(aws, 1)
    fake.default = Reply(status=503, body={"error": {"message": "down"}})
    body = message(item, "evt-1", message_id="m-1")
    for receive in (1, 2):
        record = sqs_record(body["body"], message_id="m-1", receive_count=receive)
        with pytest.raises(Exception, match="All records failed"):
            handler.lambda_handler(batch(record), lambda_context)
    fake.default = Reply()  # the provider is back
    handler.lambda_handler(batch(sqs_record(body["body"], message_id="m-1", receive_count=3)), lambda_context)
    handler.lambda_handler(batch(sqs_record(body["body"], message_id="m-1", receive_count=4)), lambda_context)

    [email] = emails(aws)
    assert email["writer"] == "llm"
