"""The stream processor on moto: realistic stream batches in, events on SNS and the email queue out."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from engagement.adapters.aws import client as aws_client
from engagement.bootstrap import Clients
from engagement.errors import TransientFailure
from tests.support.events import batch, client_values, load_fixture, stream_record
from tests.support.handlers import rebuild


def drain(aws: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    url = aws["deployed"].queue_urls[queue]
    messages: list[dict[str, Any]] = []
    while True:
        received = (
            aws["sqs"]
            .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60)
            .get("Messages", [])
        )
        if not received:
            return messages
        messages.extend(received)


def item(aws: dict[str, Any], user_id: str) -> dict[str, Any]:
    return (
        aws["dynamodb"]
        .get_item(TableName=aws["deployed"].tables["users"], Key={"userId": {"S": user_id}})
        .get("Item", {})
    )


def put(aws: dict[str, Any], values: dict[str, Any]) -> None:
    from tests.support.events import to_image

    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(values))


def count_publish_calls(handler: ModuleType) -> list[int]:
    calls: list[int] = []
    aws_client("sns").meta.events.register(  # the process's SNS client, which the publisher uses
        "provide-client-params.sns.PublishBatch",
        lambda **kwargs: calls.append(len(kwargs["params"]["PublishBatchRequestEntries"])),
    )
    return calls


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("stream_processor")


def test_the_runbook_client_makes_one_event_and_reaches_the_email_queue(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    event = load_fixture("dynamodb_stream_event.json")  # INSERT test-user-8, then a lastEmailDate-only MODIFY
    put(aws, {"userId": "test-user-8", "email": "test8@example.com"})  # the item exists, as in a real stream

    response = handler.lambda_handler(event, lambda_context)

    assert response == {"batchItemFailures": []}
    [message] = drain(aws, "email-requests")
    envelope = json.loads(message["Body"])  # raw delivery: the body is the envelope itself
    assert envelope["type"] == "client.created"
    assert envelope["id"] == "c4ca4238a0b923820dcc509a6f75849b"
    assert envelope["score"] == envelope["score"] | {"value": 30, "band": "at_risk", "source": "provided"}
    assert message["MessageAttributes"]["band"]["StringValue"] == "at_risk"
    assert message["MessageAttributes"]["eventType"]["StringValue"] == "client.created"


def test_a_hundred_records_cost_at_most_ten_publish_calls(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    calls = count_publish_calls(handler)
    records = [stream_record("INSERT", new=client_values(f"u-{i}")) for i in range(100)]

    assert handler.lambda_handler(batch(*records), lambda_context) == {"batchItemFailures": []}

    assert calls == [10] * 10


def test_only_at_risk_creations_and_updates_reach_the_email_queue(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    good = client_values("good", lastOrderDate="2026-11-27T00:00:00.000Z", orderCount=30, averageOrderValue=300)
    at_risk = client_values("risky", engagementScore=30)
    deleted = client_values("gone", engagementScore=10)
    calls = count_publish_calls(handler)

    handler.lambda_handler(
        batch(
            stream_record("INSERT", new=good),
            stream_record("INSERT", new=at_risk),
            stream_record("REMOVE", old=deleted),
        ),
        lambda_context,
    )

    assert calls == [3]  # all three are published...
    delivered = [json.loads(m["Body"]) for m in drain(aws, "email-requests")]
    assert [(e["client"]["userId"], e["type"]) for e in delivered] == [("risky", "client.created")]  # ...one emails


def test_writes_of_the_systems_own_attributes_publish_nothing(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    before = client_values("u-1", engagementScore=30)
    stamp = "2026-11-28T00:00:00.000Z"
    after = {**before, "lastEmailDate": stamp, "lastEmailId": "e", "computedScore": 28, "band": "at_risk",
             "scoredAt": stamp, "updatedAt": stamp}  # fmt: skip
    calls = count_publish_calls(handler)

    assert handler.lambda_handler(batch(stream_record("MODIFY", old=before, new=after)), lambda_context) == {
        "batchItemFailures": []
    }
    assert calls == []


def test_an_upstream_rewrite_that_erases_the_systems_attributes_gets_them_back_without_an_event(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    """The upstream writer puts the whole item, facts unchanged, without our score and email marks: left so, the
    client would look unscored and the next sweep would publish it again."""
    stamp = "2026-11-28T00:00:00.000Z"
    facts = client_values("u-1", engagementScore=30)
    ours = {"computedScore": 28, "band": "at_risk", "scoredAt": stamp, "lastEmailDate": stamp, "lastEmailId": "e-1"}
    put(aws, facts)  # what the table holds after the upstream's put
    calls = count_publish_calls(handler)

    erased = stream_record("MODIFY", old={**facts, **ours}, new=facts)
    assert handler.lambda_handler(batch(erased), lambda_context) == {"batchItemFailures": []}

    stored = item(aws, "u-1")
    assert {name: stored[name] for name in ours} == {
        "computedScore": {"N": "28"}, "band": {"S": "at_risk"}, "scoredAt": {"S": stamp},
        "lastEmailDate": {"S": stamp}, "lastEmailId": {"S": "e-1"},
    }  # fmt: skip
    assert calls == []  # no event: no fact changed
    # The restore's own record changes nothing of ours or the upstream's: it is not restored again.
    restored = stream_record("MODIFY", old=facts, new={**facts, **ours})
    assert handler.lambda_handler(batch(restored), lambda_context) == {"batchItemFailures": []}
    assert calls == []


def test_a_restore_leaves_a_value_the_system_wrote_since_the_erasing_write(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    facts = client_values("u-1", engagementScore=30)
    put(aws, {**facts, "lastEmailDate": "2026-11-29T00:00:00.000Z", "lastEmailId": "e-2"})  # emailed again since

    erased = stream_record("MODIFY", old={**facts, "lastEmailDate": "2026-11-01T00:00:00.000Z", "lastEmailId": "e-1"},
                           new=facts)  # fmt: skip
    handler.lambda_handler(batch(erased), lambda_context)

    stored = item(aws, "u-1")
    assert (stored["lastEmailDate"], stored["lastEmailId"]) == ({"S": "2026-11-29T00:00:00.000Z"}, {"S": "e-2"})


def test_the_computed_score_is_stored_beside_the_facts_never_in_engagement_score(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    values = client_values("u-1", lastOrderDate="2025-01-01T00:00:00.000Z")
    put(aws, values)

    handler.lambda_handler(batch(stream_record("INSERT", new=values)), lambda_context)

    stored = item(aws, "u-1")
    assert stored["band"] == {"S": "at_risk"}
    assert 0 < float(stored["computedScore"]["N"]) < 50
    assert "engagementScore" not in stored


def test_a_score_is_not_written_back_for_a_client_deleted_meanwhile(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    handler.lambda_handler(batch(stream_record("INSERT", new=client_values("ghost"))), lambda_context)
    assert item(aws, "ghost") == {}  # no resurrection by the score write


def test_each_bad_record_goes_to_the_dead_letter_queue_with_its_reason_and_the_rest_go_on(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    good = stream_record("INSERT", new=client_values("good-1", engagementScore=30))
    bad = {
        "userId": stream_record("INSERT", new={"email": "x@example.com"}),
        "email": stream_record("INSERT", new={"userId": "no-email"}),
        "orderCount": stream_record("INSERT", new=client_values("b1", orderCount="many")),
        "lastOrderDate": stream_record("INSERT", new=client_values("b2", lastOrderDate="2025-13-45")),
        "eventName": {**stream_record("INSERT", new=client_values("b3")), "eventName": "UPSERT"},
        "NewImage": stream_record("INSERT", raw_new={"userId": {"Q": "not a type"}}),
    }

    response = handler.lambda_handler(batch(good, *bad.values()), lambda_context)

    assert response == {"batchItemFailures": []}  # nothing holds the shard back
    assert [json.loads(m["Body"])["client"]["userId"] for m in drain(aws, "email-requests")] == ["good-1"]
    dead = {m["MessageAttributes"]["field"]["StringValue"]: m for m in drain(aws, "stream-dlq")}
    assert set(dead) == set(bad)
    for field, message in dead.items():
        assert json.loads(message["Body"]) == bad[field]  # the original record, unchanged
        assert field in message["MessageAttributes"]["reason"]["StringValue"]
        assert message["MessageAttributes"]["source"]["StringValue"] == "stream_processor"


@pytest.mark.parametrize("user_id", ["u-1\ne-9", "u-1\te-9", "u-1\u202ee-9", "u-\x00"])
def test_a_client_id_with_a_control_character_is_dead_lettered_with_its_reason(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, user_id: str
) -> None:
    """A line break in a client id once let one client's unsubscribe link be replayed for another: never accepted."""
    record = stream_record("INSERT", new=client_values(user_id, engagementScore=30))

    assert handler.lambda_handler(batch(record), lambda_context) == {"batchItemFailures": []}

    assert drain(aws, "email-requests") == []
    [dead] = drain(aws, "stream-dlq")
    reason = dead["MessageAttributes"]["reason"]["StringValue"]
    assert "userId" in reason
    assert "control characters" in reason


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ('"Boss"<attacker@example.com>', "bare address"),
        ("a,b@example.com", "bare address"),
        ("a" * 40_000 + "@example.com", "at most 254 characters"),
    ],
)
def test_an_address_that_is_not_one_bare_address_is_dead_lettered_at_once(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, address: str, said: str
) -> None:
    record = stream_record("INSERT", new=client_values("u-1", email=address, engagementScore=30))

    assert handler.lambda_handler(batch(record), lambda_context) == {"batchItemFailures": []}

    assert drain(aws, "email-requests") == []
    [dead] = drain(aws, "stream-dlq")
    assert said in dead["MessageAttributes"]["reason"]["StringValue"]
    assert dead["MessageAttributes"]["field"]["StringValue"] == "email"


class FlakySns:
    """A real (moto) SNS client whose PublishBatch reports chosen entries as failed, as SNS can."""

    def __init__(self, real: Any, fail: dict[int, bool]) -> None:
        self.real, self.fail = real, fail  # entry index → SenderFault

    def publish_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["PublishBatchRequestEntries"]
        chosen = {f"e{i}": fault for i, fault in self.fail.items()}
        kept = [entry for entry in entries if entry["Id"] not in chosen]
        response = (
            self.real.publish_batch(TopicArn=request["TopicArn"], PublishBatchRequestEntries=kept) if kept else {}
        )
        failed = [
            {"Id": entry["Id"], "Code": "InvalidParameter" if chosen[entry["Id"]] else "InternalError",
             "Message": "injected", "SenderFault": chosen[entry["Id"]]}
            for entry in entries if entry["Id"] in chosen
        ]  # fmt: skip
        return {"Successful": response.get("Successful", []), "Failed": failed}


def test_an_entry_sns_fails_maps_back_to_its_record_and_a_sender_fault_is_dead_lettered(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    records = [stream_record("INSERT", new=client_values(f"u-{i}", engagementScore=30)) for i in range(4)]
    rebuild(handler, clients=Clients(sns=FlakySns(aws["sns"], fail={1: False, 2: True})))

    response = handler.lambda_handler(batch(*records), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert sorted(json.loads(m["Body"])["client"]["userId"] for m in drain(aws, "email-requests")) == ["u-0", "u-3"]
    [dead] = drain(aws, "stream-dlq")
    assert json.loads(dead["Body"])["eventID"] == records[2]["eventID"]
    assert "InvalidParameter" in dead["MessageAttributes"]["reason"]["StringValue"]


def test_a_transient_storage_error_is_retried_not_dead_lettered(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [stream_record("INSERT", new=client_values(f"u-{i}", engagementScore=30)) for i in range(3)]
    for i in range(3):
        put(aws, client_values(f"u-{i}", engagementScore=30))
    real = handler.services.service.users.record_score

    def throttled(user_id: str, *args: Any) -> None:
        if user_id == "u-1":
            raise TransientFailure("record score: ProvisionedThroughputExceededException")
        real(user_id, *args)

    monkeypatch.setattr(handler.services.service.users, "record_score", throttled)

    response = handler.lambda_handler(batch(*records), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert drain(aws, "stream-dlq") == []


def test_when_sns_is_down_the_whole_batch_fails_so_lambda_retries_it(
    handler: ModuleType, aws: dict[str, Any], lambda_context: Any
) -> None:
    class DownSns:
        def publish_batch(self, **_: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "down"}}, "PublishBatch")

    rebuild(handler, clients=Clients(sns=DownSns()))
    records = [stream_record("INSERT", new=client_values(f"u-{i}")) for i in range(2)]

    with pytest.raises(BatchProcessingError):
        handler.lambda_handler(batch(*records), lambda_context)
    assert drain(aws, "stream-dlq") == []
