"""The whole pipeline in this process, on moto: the handlers as Lambda runs them, fed by the local mode's own
event source mappings (stream and queue pollers, with partial batch responses, bisection and redrive), and the
rescoring sweep behind its segment queue.

Time between deliveries is not slept: the queues' visibility timeout is 0, so a message reported as failed is
received again on the next poll, and each poll is one receive cycle (after maxReceiveCount it is in the DLQ).
Faults are injected at the adapters (the LLM server, SES, a repository method), never by racing the clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import boto3
import botocore.client
from botocore.exceptions import ClientError

from engagement.adapters.store.decisions import DecisionRepository
from engagement.adapters.store.dynamo import from_item
from localmode.pollers import BatchReport, QueuePoller, StreamPoller
from localmode.runtime import Invocation
from stack import resources
from tests.support.handlers import LambdaContext, rebuild


class Crash(BaseException):
    """The function's process dies here (an out-of-memory kill, a timeout): nothing after it runs, and Lambda
    reports the invocation as a function error. A BaseException, so no handler code can catch it as an error."""


class InProcessFunction:
    """A handler module as a Lambda function for the pollers: an escaped exception is a function error."""

    def __init__(self, name: str, module: ModuleType) -> None:
        self.name = self.label = name
        self.module = module
        self.invocations = 0
        self.errors: list[str] = []

    def invoke(self, event: dict[str, Any]) -> Invocation:
        self.invocations += 1
        try:
            return Invocation(result=self.module.lambda_handler(event, LambdaContext()))
        except (Exception, Crash) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return Invocation(error={"errorType": type(exc).__name__, "errorMessage": str(exc)})


class Pipeline:
    """Stream → stream_processor → SNS → SQS → email_processor / client_signals, driven poll by poll."""

    def __init__(self, aws: dict[str, Any], load_handler: Callable[..., ModuleType], **email_env: str) -> None:
        self.aws = aws
        self.deployed = aws["deployed"]
        self.stop = threading.Event()
        self.reports: list[BatchReport] = []
        for queue in ("email-requests", "client-signals", "rescore-segments"):
            aws["sqs"].set_queue_attributes(QueueUrl=self.deployed.queue_urls[queue],
                                            Attributes={"VisibilityTimeout": "0"})  # fmt: skip
        self.functions = {
            "stream_processor": InProcessFunction("stream_processor", load_handler("stream_processor")),
            "email_processor": InProcessFunction("email_processor", load_handler("email_processor", **email_env)),
            "client_signals": InProcessFunction("client_signals", load_handler("client_signals")),
            "rescore": InProcessFunction("rescore", load_handler("rescore")),
        }
        stream = resources.USERS_STREAM_SOURCE
        self.stream_poller = StreamPoller(
            function=self.functions["stream_processor"],  # type: ignore[arg-type]
            streams=boto3.client("dynamodbstreams"),
            sqs=aws["sqs"],
            stream_arn=self.deployed.stream_arn,
            region=resources.REGION,
            batch_size=stream.batch_size,
            starting_position="TRIM_HORIZON",
            maximum_retry_attempts=stream.maximum_retry_attempts,
            bisect_on_error=stream.bisect_batch_on_function_error,
            maximum_record_age=stream.maximum_record_age_seconds,
            on_failure_queue_url=self.deployed.queue_urls[stream.on_failure_queue],
            stop=self.stop,
            report=self.reports.append,
            filter_patterns=stream.filter_patterns,
        )
        self.queue_pollers = {
            source.queue: QueuePoller(
                function=self.functions[source.function],  # type: ignore[arg-type]
                sqs=aws["sqs"],
                queue_url=self.deployed.queue_urls[source.queue],
                queue_arn=self.deployed.queue_arns[source.queue],
                region=resources.REGION,
                batch_size=source.batch_size,
                wait_seconds=0,
                stop=self.stop,
                report=self.reports.append,
            )
            for source in resources.QUEUE_SOURCES
            if source.function in self.functions
        }

    @property
    def email_processor(self) -> ModuleType:
        return self.functions["email_processor"].module

    @property
    def rescore(self) -> ModuleType:
        return self.functions["rescore"].module

    def use_clock(self, clock: Any) -> None:
        """One clock for every function, as the local mode's shifted clock is: scoring, cooldowns, the sweep."""
        for name in ("stream_processor", "email_processor", "rescore"):
            rebuild(self.functions[name].module, clock=clock)

    def sweep(self) -> dict[str, Any]:
        """The schedule's call (the coordinator), then every segment task until the pipeline is quiet."""
        started: dict[str, Any] = self.rescore.lambda_handler({"action": "rescore"}, LambdaContext())
        self.drain()
        return started

    # Every way of driving the pollers makes each AWS request atomic, as in AWS: the email processor's ten threads
    # would otherwise race inside moto (two puts that both see no item, an ADD that loses an increment), and the
    # suite would measure the emulator instead of the product.

    def drain(self, max_polls: int = 10_000) -> int:
        """Poll the stream and the queues until a whole round delivers nothing; how many polls delivered."""
        with atomic_requests(read_pause=0):
            for polls in range(max_polls):
                busy = self.stream_poller.poll_once()
                for poller in self.queue_pollers.values():
                    busy = poller.poll_once() or busy
                if not busy:
                    return polls
        raise AssertionError(f"the pipeline did not drain in {max_polls} polls")

    def receive_cycle(self, queue: str = "email-requests") -> bool:
        """One receive of one queue (a visibility timeout passing)."""
        with atomic_requests(read_pause=0):
            return self.queue_pollers[queue].poll_once()

    def stream_cycle(self) -> bool:
        """One read of the stream, delivered to the stream processor."""
        with atomic_requests(read_pause=0):
            return self.stream_poller.poll_once()

    # ---- what a user would look at ------------------------------------------------------------------------

    def put_clients(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.aws["dynamodb"].put_item(TableName=self.deployed.tables["users"], Item=item)

    def emails(self) -> list[dict[str, Any]]:
        return scan(self.aws["dynamodb"], self.deployed.tables["emails"])

    def client(self, user_id: str) -> dict[str, Any]:
        item = self.aws["dynamodb"].get_item(TableName=self.deployed.tables["users"], Key={"userId": {"S": user_id}})
        return from_item(item["Item"])

    def dead_letters(self, queue: str) -> list[dict[str, Any]]:
        """Every message in a DLQ (received, then made visible again), with its attributes."""
        return list(peek(self.aws["sqs"], self.deployed.queue_urls[queue]))

    def counters(self) -> dict[str, int]:
        """The counters the overview shows (decided_<reason>, emailed, conversions), summed as the API sums them."""
        return DecisionRepository(self.deployed.tables["decisions"], self.aws["dynamodb"]).counters()

    def published_events(self) -> int:
        return sum(report.size - report.failed for report in self.reports if report.source == "stream")


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return [from_item(item) for page in dynamodb.get_paginator("scan").paginate(TableName=table)
            for item in page["Items"]]  # fmt: skip


def peek(sqs: Any, queue_url: str) -> Iterator[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       AttributeNames=["All"], VisibilityTimeout=30).get("Messages", [])  # fmt: skip
        if not messages:
            break
        for message in messages:
            seen[message["MessageId"]] = message
    for message in seen.values():
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        yield {
            "body": message["Body"],
            "attributes": {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()},
            "receives": int(message["Attributes"]["ApproximateReceiveCount"]),
        }


def body_of(dead_letter: dict[str, Any]) -> Any:
    try:
        return json.loads(dead_letter["body"])
    except ValueError:
        return dead_letter["body"]


@contextmanager
def atomic_requests(read_pause: float = 0.002) -> Iterator[None]:
    """DynamoDB applies each request atomically; moto in-process does not when threads race. One lock around every
    AWS request makes each one atomic, and a pause after each read lets the other thread in between our read and
    our write: the interleaving that races are made of."""
    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def call(self: Any, operation: str, params: Any) -> Any:
        with lock:
            answer = original(self, operation, params)
        if read_pause and operation in ("GetItem", "Query", "Scan"):
            time.sleep(read_pause)
        return answer

    botocore.client.BaseClient._make_api_call = call
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original


def adds_to_the_counters(operation: str, params: dict[str, Any]) -> bool:
    """Whether an AWS request writes the overview's counters (items of the decisions table keyed #stats…)."""
    if operation == "UpdateItem":
        keys = [params.get("Key", {})]
    elif operation == "TransactWriteItems":
        keys = [next(iter(item.values())).get("Key", {}) for item in params.get("TransactItems", [])]
    else:
        return False
    return any(str(key.get("userId", {}).get("S", "")).startswith("#stats") for key in keys)


def throttled(operation: str = "UpdateItem") -> ClientError:
    """DynamoDB refusing a call after the SDK's own retries."""
    error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds the allowed"}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


# What can happen between a thing done and its count: the function dies, or DynamoDB refuses the call.
COUNTER_FAULTS: dict[str, Callable[[], BaseException]] = {
    "a crash": lambda: Crash("killed at the count"),
    "a throttled call": throttled,
}


class CounterWriteFaults:
    """While installed, each arm() makes the next request that adds to the counters fail with fault(): the function
    dying (Crash), or a throttled call, at the moment a thing is done and must be counted."""

    def __init__(self, fault: Callable[[], BaseException]) -> None:
        self.fault = fault
        self.armed = 0
        self.fired = 0

    def arm(self) -> None:
        self.armed += 1

    @contextmanager
    def installed(self) -> Iterator[CounterWriteFaults]:
        original = botocore.client.BaseClient._make_api_call

        def call(client: Any, operation: str, params: Any) -> Any:
            if self.armed and adds_to_the_counters(operation, params):
                self.armed -= 1
                self.fired += 1
                raise self.fault()
            return original(client, operation, params)

        with patched(botocore.client.BaseClient, "_make_api_call", call):
            yield self


@contextmanager
def patched(target: Any, name: str, replacement: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, replacement)
    try:
        yield
    finally:
        setattr(target, name, original)
