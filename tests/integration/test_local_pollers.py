"""The local event source mappings deliver Lambda's shapes and honour partial batch responses like Lambda."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from localmode.pollers import BatchReport, QueuePoller, StreamPoller
from localmode.runtime import Invocation
from tests.support.events import client_values, to_image


class FakeFunction:
    """Stands in for a worker: records every event and answers as the test says."""

    name = label = "fake"

    def __init__(self, answer: Callable[[dict[str, Any]], Invocation]) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        return self.answer(event)


def fail_ids(identifiers: set[str]) -> Invocation:
    return Invocation(result={"batchItemFailures": [{"itemIdentifier": i} for i in sorted(identifiers)]})


def queue_poller(aws: dict[str, Any], function: FakeFunction, reports: list[BatchReport]) -> QueuePoller:
    deployed = aws["deployed"]
    return QueuePoller(
        function=function,  # type: ignore[arg-type]
        sqs=aws["sqs"],
        queue_url=deployed.queue_urls["email-requests"],
        queue_arn=deployed.queue_arns["email-requests"],
        region="us-east-1",
        batch_size=10,
        wait_seconds=0,
        stop=threading.Event(),
        report=reports.append,
    )


def stream_poller(
    aws: dict[str, Any], function: FakeFunction, reports: list[BatchReport], retries: int = 2
) -> StreamPoller:
    deployed = aws["deployed"]
    return StreamPoller(
        function=function,  # type: ignore[arg-type]
        streams=aws["dynamodbstreams"],
        sqs=aws["sqs"],
        stream_arn=deployed.stream_arn,
        region="us-east-1",
        batch_size=100,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=retries,
        bisect_on_error=True,
        maximum_record_age=3600,
        on_failure_queue_url=deployed.queue_urls["stream-dlq"],
        stop=threading.Event(),
        report=reports.append,
    )


def queue_depth(aws: dict[str, Any], name: str) -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["deployed"].queue_urls[name],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_sqs_batches_arrive_in_lambdas_shape_and_successes_are_deleted(aws: dict[str, Any]) -> None:
    url = aws["deployed"].queue_urls["email-requests"]
    aws["sqs"].send_message(
        QueueUrl=url,
        MessageBody='{"hello": 1}',
        MessageAttributes={"band": {"DataType": "String", "StringValue": "at_risk"}},
    )
    function = FakeFunction(lambda event: Invocation(result={"batchItemFailures": []}))

    assert queue_poller(aws, function, []).poll_once()

    [record] = function.events[0]["Records"]
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                           "eventSource", "eventSourceARN", "awsRegion"}  # fmt: skip
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == aws["deployed"].queue_arns["email-requests"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["band"] == {
        "stringValue": "at_risk", "stringListValues": [], "binaryListValues": [], "dataType": "String"
    }  # fmt: skip
    assert queue_depth(aws, "email-requests") == 0


def test_a_message_that_keeps_failing_reaches_the_dlq_after_max_receive_count(aws: dict[str, Any]) -> None:
    url = aws["deployed"].queue_urls["email-requests"]
    aws["sqs"].set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    aws["sqs"].send_message(QueueUrl=url, MessageBody="poison")
    aws["sqs"].send_message(QueueUrl=url, MessageBody="fine")

    def answer(event: dict[str, Any]) -> Invocation:
        return fail_ids({r["messageId"] for r in event["Records"] if r["body"] == "poison"})

    function = FakeFunction(answer)
    poller = queue_poller(aws, function, [])
    while poller.poll_once():
        pass

    bodies = [r["body"] for event in function.events for r in event["Records"]]
    assert bodies.count("poison") == 5  # maxReceiveCount
    assert bodies.count("fine") == 1
    assert queue_depth(aws, "email-requests") == 0
    assert queue_depth(aws, "email-requests-dlq") == 1


def test_a_function_error_leaves_the_whole_sqs_batch_for_retry(aws: dict[str, Any]) -> None:
    url = aws["deployed"].queue_urls["email-requests"]
    aws["sqs"].send_message(QueueUrl=url, MessageBody="a")
    function = FakeFunction(lambda event: Invocation(error={"errorType": "Boom", "errorMessage": "no"}))

    queue_poller(aws, function, []).poll_once()

    assert queue_depth(aws, "email-requests") == 1


def put_users(aws: dict[str, Any], count: int) -> None:
    for i in range(count):
        aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(client_values(f"u-{i}")))


def test_stream_batches_arrive_in_lambdas_shape(aws: dict[str, Any]) -> None:
    put_users(aws, 3)
    function = FakeFunction(lambda event: Invocation(result={"batchItemFailures": []}))

    stream_poller(aws, function, []).poll_once()

    records = function.events[0]["Records"]
    assert [r["dynamodb"]["Keys"]["userId"]["S"] for r in records] == ["u-0", "u-1", "u-2"]
    first = records[0]
    assert (first["eventName"], first["eventSource"], first["eventVersion"]) == ("INSERT", "aws:dynamodb", "1.1")
    assert first["eventSourceARN"] == aws["deployed"].stream_arn
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert first["dynamodb"]["NewImage"]["userId"] == {"S": "u-0"}
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_stream_item_failures_are_retried_from_the_lowest_failed_record_then_given_up(aws: dict[str, Any]) -> None:
    put_users(aws, 4)

    def answer(event: dict[str, Any]) -> Invocation:
        failing = {
            r["dynamodb"]["SequenceNumber"] for r in event["Records"] if r["dynamodb"]["Keys"]["userId"]["S"] == "u-2"
        }
        return fail_ids(failing)

    function = FakeFunction(answer)
    reports: list[BatchReport] = []
    stream_poller(aws, function, reports, retries=2).poll_once()

    delivered = [[r["dynamodb"]["Keys"]["userId"]["S"] for r in event["Records"]] for event in function.events]
    assert delivered == [["u-0", "u-1", "u-2", "u-3"], ["u-2", "u-3"], ["u-2", "u-3"]]
    [failure] = aws["sqs"].receive_message(QueueUrl=aws["deployed"].queue_urls["stream-dlq"])["Messages"]
    record = json.loads(failure["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2
    assert reports[-1].note == "RetryAttemptsExhausted"


def test_a_stream_function_error_bisects_the_batch(aws: dict[str, Any]) -> None:
    put_users(aws, 4)

    def answer(event: dict[str, Any]) -> Invocation:
        users = [r["dynamodb"]["Keys"]["userId"]["S"] for r in event["Records"]]
        if "u-3" in users and len(users) > 1:
            return Invocation(error={"errorType": "Boom", "errorMessage": "batch failed"})
        return Invocation(result={"batchItemFailures": []})

    function = FakeFunction(answer)
    stream_poller(aws, function, []).poll_once()

    delivered = [[r["dynamodb"]["Keys"]["userId"]["S"] for r in event["Records"]] for event in function.events]
    assert delivered[:4] == [["u-0", "u-1", "u-2", "u-3"], ["u-0", "u-1"], ["u-2", "u-3"], ["u-2"]]
    assert ["u-3"] in delivered


def test_a_poller_stopped_mid_batch_leaves_quietly_and_one_that_fails_while_running_says_why(
    aws: dict[str, Any],
) -> None:
    url = aws["deployed"].queue_urls["email-requests"]
    aws["sqs"].send_message(QueueUrl=url, MessageBody="{}")
    escaped: list[threading.ExceptHookArgs] = []
    previous_hook, threading.excepthook = threading.excepthook, escaped.append
    try:
        stopping = queue_poller(aws, FakeFunction(lambda event: Invocation(result={})), [])
        unreachable_emulator = RuntimeError("Could not connect to the endpoint URL")

        def shut_down_mid_batch(**_: Any) -> None:
            stopping.stop_event.set()  # `make local` stopped, the worker killed, the emulator gone
            raise unreachable_emulator

        receive = aws["sqs"].receive_message
        stopping.sqs = SimpleNamespace(receive_message=receive, delete_message_batch=shut_down_mid_batch)
        stopping.start()
        stopping.join(timeout=10)
        assert not stopping.is_alive()
        assert stopping.error is None
        assert escaped == []  # no traceback on the console while stopping

        aws["sqs"].send_message(QueueUrl=url, MessageBody="{}")
        running = queue_poller(aws, FakeFunction(lambda event: Invocation(result={})), [])
        broken = RuntimeError("the emulator went away while running")

        def fail_while_running(**_: Any) -> None:
            raise broken

        running.sqs = SimpleNamespace(receive_message=receive, delete_message_batch=fail_while_running)
        running.start()
        running.join(timeout=10)
        assert running.error is broken
        assert [hook.exc_value for hook in escaped] == [broken]
    finally:
        threading.excepthook = previous_hook
