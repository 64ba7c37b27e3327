"""Poison: each class of malformed input, mixed into batches of good records. The good ones are processed, each
bad one reaches its dead-letter queue at once with its reason, and nothing is retried that can never succeed (a
retried stream record would hold back its shard)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tests.reliability.conftest import Figures, scale
from tests.reliability.harness import InProcessFunction, Pipeline, body_of
from tests.support.events import client_values, to_image

# Items an upstream writer may put in the users table, each breaking the data contract in its own way.
BAD_ITEMS: dict[str, dict[str, Any]] = {
    "no-email": {"email": None},
    "bad-address": {"email": "not an address"},
    "text-order-count": {"orderCount": "five"},
    "negative-order-count": {"orderCount": -3},
    "unparseable-date": {"lastOrderDate": "last tuesday"},
    "score-above-100": {"engagementScore": 150},
    "score-below-0": {"engagementScore": -1},
    "categories-not-a-list": {"preferredCategories": "shoes"},
    "name-too-long": {"name": "x" * 10_000},
}


class CorruptsRecords(InProcessFunction):
    """Adds, to each stream batch Lambda delivers, records no put-item can make: an unknown event name, an
    INSERT without its new image, an image whose key is not a string."""

    def __init__(self, function: InProcessFunction) -> None:
        super().__init__(function.name, function.module)
        self.added = 0

    def invoke(self, event: dict[str, Any]) -> Any:
        if self.added == 0 and event["Records"]:
            template = event["Records"][0]
            unknown = json.loads(json.dumps(template)) | {"eventName": "TRUNCATE"}
            no_image = json.loads(json.dumps(template))
            no_image["eventName"] = "INSERT"
            no_image["dynamodb"].pop("NewImage", None)
            bad_key = json.loads(json.dumps(template))
            bad_key["dynamodb"]["NewImage"] = {**bad_key["dynamodb"].get("NewImage", {}), "userId": {"N": "7"}}
            for n, record in enumerate((unknown, no_image, bad_key), start=1):
                record["dynamodb"]["SequenceNumber"] = f"{record['dynamodb']['SequenceNumber']}{n}"
                record["eventID"] = f"corrupt-{n}"
            event = {"Records": [*event["Records"], unknown, no_image, bad_key]}
            self.added = 3
        return super().invoke(event)


def test_malformed_stream_records_go_to_the_dlq_at_once_and_the_good_ones_on(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures
) -> None:
    pipeline = Pipeline(aws, load_handler)
    corrupting = CorruptsRecords(pipeline.functions["stream_processor"])
    pipeline.stream_poller.function = corrupting  # type: ignore[assignment]
    good_per_class = scale(2, 20)
    items, good_ids = [], []
    for kind, change in BAD_ITEMS.items():
        items.append(to_image(client_values(f"bad-{kind}", **change)))
        for n in range(good_per_class):  # good records on both sides of each bad one
            good_ids.append(f"good-{kind}-{n}")
            items.append(to_image(client_values(good_ids[-1], engagementScore=20)))

    pipeline.put_clients(items)
    pipeline.drain()

    stream_reports = [report for report in pipeline.reports if report.source == "stream"]
    assert all(report.failed == 0 for report in stream_reports)  # nothing reported for retry: the shard moved on
    dead = pipeline.dead_letters("stream-dlq")
    reasons = {body_of(letter)["dynamodb"]["Keys"]["userId"]["S"]: letter["attributes"] for letter in dead
               if isinstance(body_of(letter), dict) and "dynamodb" in body_of(letter)}  # fmt: skip
    assert {f"bad-{kind}" for kind in BAD_ITEMS} <= set(reasons)
    assert all(
        attributes.get("reason") and attributes.get("source") == "stream_processor" for attributes in reasons.values()
    )
    assert len(dead) == len(BAD_ITEMS) + corrupting.added  # every bad record once, with its reason; no good one
    assert sorted({e["userId"] for e in pipeline.emails()}) == sorted(good_ids)  # every good client, once
    assert len(pipeline.emails()) == len(good_ids)
    figures.record(records_in=len(items) + corrupting.added, good=len(good_ids), emails_out=len(pipeline.emails()),
                   dead_lettered=len(dead), retried=sum(r.failed for r in stream_reports), lost=0)  # fmt: skip


def test_malformed_queue_messages_go_to_the_dlq_on_first_receive_and_the_good_ones_on(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures
) -> None:
    pipeline = Pipeline(aws, load_handler)
    sqs, urls = aws["sqs"], pipeline.deployed.queue_urls
    good = [to_image(client_values(f"q-good-{i}", engagementScore=20)) for i in range(scale(10, 100))]
    broken = to_image(client_values("q-broken", orderCount="many"))  # its current item breaks the contract
    pipeline.put_clients([*good, broken])
    pipeline.drain()  # the stream's events: drafts for the good ones; the broken item is in stream-dlq
    drafted_before = len(pipeline.emails())

    envelope = json.loads(json.dumps({"version": 1, "id": "evt-x", "type": "client.updated",
                                      "occurredAt": "2026-11-28T10:00:00.000Z",
                                      "client": {"userId": "q-broken", "email": "q-broken@example.com"},
                                      "score": {"value": 20, "band": "critical", "source": "provided"}}))  # fmt: skip
    poison = {
        "not JSON": "{{{",
        "empty": "",
        "JSON, not an envelope": "[1, 2, 3]",
        "unknown version": json.dumps({**envelope, "version": 99}),
        "no client": json.dumps({k: v for k, v in envelope.items() if k != "client"}),
        "client's item breaks the contract": json.dumps(envelope),
    }
    fresh = [to_image(client_values(f"q-late-{i}", engagementScore=20)) for i in range(5)]
    for n, item in enumerate(fresh):  # good messages around the poison, in the same batches
        pipeline.put_clients([item])
        for body in list(poison.values())[n::5]:
            sqs.send_message(QueueUrl=urls["email-requests"], MessageBody=body)
    for body in ("not json", json.dumps({"version": 1, "type": "order_placed"})):
        sqs.send_message(QueueUrl=urls["client-signals"], MessageBody=body)

    pipeline.drain()

    email_dlq = pipeline.dead_letters("email-requests-dlq")
    assert sorted(letter["body"] for letter in email_dlq) == sorted(poison.values())
    assert all(letter["attributes"].get("reason") for letter in email_dlq)
    assert {letter["receives"] for letter in email_dlq} == {1}  # dead-lettered by us at once, not after 5 receives
    signals_dlq = pipeline.dead_letters("client-signals-dlq")
    assert len(signals_dlq) == 2
    assert all(letter["attributes"].get("reason") for letter in signals_dlq)
    drafted = Counter(e["userId"] for e in pipeline.emails())
    assert len(pipeline.emails()) == drafted_before + len(fresh)
    assert set(drafted.values()) == {1}
    figures.record(poison_messages=len(poison) + 2, dead_lettered=len(email_dlq) + len(signals_dlq),
                   good_messages=len(good) + len(fresh), emails_out=len(pipeline.emails()), lost=0)  # fmt: skip
