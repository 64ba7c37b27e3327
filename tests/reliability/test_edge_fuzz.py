"""Bad input at the edge: whatever Hypothesis makes of stream records, SQS bodies and API payloads, no batch
processor and no API route lets it escape as an unhandled error, and nothing sent is lost.

- stream_processor: every record of a batch is accounted for exactly once: published to SNS or dead-lettered with
  its reason (retries are for transient errors, and moto has none); a MODIFY that changed no fact publishes
  nothing, by design. The good records among the bad reach their queue.
- email_processor, client_signals, ses_feedback: each bad body lands in the function's dead-letter queue unchanged,
  with its reason; the good ones are processed (a draft, a cancellation, a suppression); the batch is answered.
- api: whatever a write route or a listing is sent, the answer is JSON and never a 5xx; an error says why.

Moto's state outlives an example: each example drains the queues it reads first and uses ids of its own.
The seven bugs these properties found (binary attributes, unreadable JSON, keys DynamoDB refuses, numbers it cannot
hold, SES notifications of the wrong shape) are fixed; each is pinned by a regression test at the end.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import operator
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.adapters.aws import client as aws_client
from engagement.adapters.store.dynamo import from_item
from engagement.bootstrap import Clients
from engagement.domain.events import FACT_ATTRIBUTES, changed_facts, decode_event, encode_event, event_from_change
from engagement.domain.jsontext import MAX_NESTING
from engagement.domain.models import Band, Email, EmailStatus, StatusChange
from engagement.services.ses_feedback import parse_notification
from localmode.lambda_events import http_api_event
from tests.reliability.conftest import Figures, scale
from tests.support.events import RUNBOOK_TEST_USER_8, batch, client_values, message, sqs_record, stream_record, to_image
from tests.support.handlers import API_TOKEN

TOKEN = API_TOKEN
FUZZ = settings(
    max_examples=scale(25, 300),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    deadline=None,
    database=None,
)
_ids = itertools.count(1)


def unique(prefix: str) -> str:
    """An id no other example uses (moto's tables and queues outlive an example)."""
    return f"{prefix}-{next(_ids)}-{uuid.uuid4().hex[:8]}"


def drain(aws: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    """Every message in a queue, taken out of it (received and deleted)."""
    url = aws["deployed"].queue_urls[queue]
    messages: list[dict[str, Any]] = []
    while (
        received := aws["sqs"]
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=600)
        .get("Messages", [])
    ):
        messages.extend(received)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
        aws["sqs"].delete_message_batch(QueueUrl=url, Entries=entries)
    return messages


def attribute(message: dict[str, Any], name: str) -> str:
    return str(message.get("MessageAttributes", {}).get(name, {}).get("StringValue", ""))


def nesting(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings left out)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


# ---- strategies: DynamoDB images as Lambda delivers them, and worse ------------------------------------------

TEXT = st.text(max_size=20)
HUGE_TEXT = st.builds(operator.mul, st.text(min_size=1, max_size=3), st.integers(100, 3000))
NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(10**45), max_value=10**45).map(str),
    st.floats().map(repr),  # nan, inf, 1e+308, 5e-324
    st.decimals(allow_nan=True, allow_infinity=True).map(str),  # sNaN, -Infinity, 1E+400
    st.sampled_from(["NaN", "Infinity", "1E+126", "1E-131", "9" * 39, "", " 1", "1_000", "0x1F", "1,5", "--1"]),
    TEXT,
)
BASE64 = st.binary(max_size=16).map(lambda raw: base64.b64encode(raw).decode())  # B as the stream event holds it
NOT_AN_ATTRIBUTE: st.SearchStrategy[Any] = st.sampled_from(
    [{"S": 5}, {"N": 5}, {"BOOL": "yes"}, {"NULL": False}, {"Q": "x"}, {}, {"S": "a", "N": "1"}, "plain", None, 5,
     [], {"L": "x"}, {"M": []}, {"SS": "abc"}, {"NS": [1]}]
)  # fmt: skip


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """L and M attributes of the attributes inner makes."""
    return st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(TEXT, inner, max_size=3).map(lambda v: {"M": v}),
    )


ATTRIBUTE = st.recursive(
    st.one_of(
        st.one_of(TEXT, HUGE_TEXT).map(lambda s: {"S": s}),
        NUMBER_TEXT.map(lambda n: {"N": n}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        BASE64.map(lambda b: {"B": b}),
        st.lists(TEXT, max_size=3).map(lambda v: {"SS": v}),
        st.lists(NUMBER_TEXT, max_size=3).map(lambda v: {"NS": v}),
        st.lists(BASE64, max_size=2).map(lambda v: {"BS": v}),
        NOT_AN_ATTRIBUTE,
    ),
    containers,
    max_leaves=6,
)
# What DynamoDB itself could hold: the attributes a good item may carry besides the facts.
VALID_ATTRIBUTE = st.recursive(
    st.one_of(
        TEXT.map(lambda s: {"S": s}),
        st.integers(-(10**20), 10**20).map(lambda n: {"N": str(n)}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        BASE64.map(lambda b: {"B": b}),
        st.sets(TEXT, min_size=1, max_size=3).map(lambda v: {"SS": sorted(v)}),
        st.sets(st.integers(0, 999), min_size=1, max_size=3).map(lambda v: {"NS": [str(n) for n in sorted(v)]}),
    ),
    containers,
    max_leaves=4,
)
CLIENT_ATTRIBUTES = ("userId", "email", "name", "lastOrderDate", "orderCount", "averageOrderValue",
                     "preferredCategories", "createdAt", "updatedAt", "engagementScore", "optedOut", "timezone",
                     "lastEmailDate", "lastEmailId", "computedScore", "band", "scoredAt")  # fmt: skip


@st.composite
def near_good_images(draw: st.DrawFn) -> dict[str, Any]:
    """A good client's item with some attributes given other types or values, and some left out."""
    image = to_image(client_values(unique("fuzz")))
    image.update(draw(st.dictionaries(st.sampled_from(CLIENT_ATTRIBUTES), ATTRIBUTE, min_size=1, max_size=3)))
    for name in draw(st.sets(st.sampled_from(CLIENT_ATTRIBUTES), max_size=2)):
        image.pop(name, None)
    return image


IMAGE = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(CLIENT_ATTRIBUTES), TEXT), ATTRIBUTE, max_size=6), near_good_images()
)
EVENT_NAME = st.one_of(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]), TEXT, st.integers(), st.none())
CREATED = st.one_of(st.just(1_795_000_000), st.integers(), st.floats(allow_nan=False), TEXT, st.none(), st.booleans())
DROPPABLE = ("eventID", "eventName", "dynamodb", "SequenceNumber", "Keys", "ApproximateCreationDateTime")


@st.composite
def bad_records(draw: st.DrawFn) -> dict[str, Any]:
    """A stream record whose images, eventName, creation time or keys may be anything, or missing."""
    record = stream_record("INSERT", new=client_values("placeholder"))
    change = record["dynamodb"]
    record["eventName"] = draw(EVENT_NAME)
    change["ApproximateCreationDateTime"] = draw(CREATED)
    for side in ("NewImage", "OldImage"):
        image = draw(st.none() | IMAGE)
        if image is None:
            change.pop(side, None)
        else:
            change[side] = image
    change["Keys"] = {"userId": (change.get("NewImage") or change.get("OldImage") or {}).get("userId")}
    if draw(st.booleans()):
        record["eventID"] = ""  # the sequence number stands in
    for key in draw(st.sets(st.sampled_from(DROPPABLE), max_size=2)):
        (change if key in change else record).pop(key, None)
    return record


@st.composite
def good_records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid at-risk client's creation, fact change or removal, perhaps with attributes of its own of any type."""
    values = client_values(unique("good"), engagementScore=draw(st.integers(0, 49)))
    extra = draw(st.dictionaries(TEXT.filter(lambda n: n and n not in CLIENT_ATTRIBUTES), VALID_ATTRIBUTE, max_size=2))
    image = {**to_image(values), **extra}
    kind = draw(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
    if kind == "INSERT":
        return stream_record("INSERT", raw_new=image)
    record = stream_record(kind, old=values | {"name": "Before"})
    record["dynamodb"]["NewImage" if kind == "MODIFY" else "OldImage"] = image
    return record


@st.composite
def stream_batches(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One to four good records and one to eight bad ones, in any order; and which are the good ones."""
    good = draw(st.lists(good_records(), min_size=1, max_size=4))
    bad = draw(st.lists(bad_records(), min_size=1, max_size=8))
    return draw(st.permutations(good + bad)), good


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def record_id(record: dict[str, Any]) -> str:
    """The id its event carries: the eventID, else the sequence number."""
    change = record.get("dynamodb") or {}
    return str(record.get("eventID") or change.get("SequenceNumber") or "")


class EventImageDeserializer(TypeDeserializer):
    """Reads an image as Lambda's stream event carries it: binaries as base64 text."""

    def _deserialize_b(self, value: Any) -> Any:
        return super()._deserialize_b(base64.b64decode(value, validate=True))


def changes_no_fact(record: dict[str, Any]) -> bool:
    """A MODIFY whose images agree on every fact: a write of the system's own, which publishes nothing."""
    change = record.get("dynamodb") or {}
    if record.get("eventName") != "MODIFY" or not change.get("NewImage"):
        return False
    deserializer = EventImageDeserializer()

    def facts(image: dict[str, Any]) -> dict[str, Any]:
        return {name: deserializer.deserialize(value) for name, value in image.items() if name in FACT_ATTRIBUTES}

    try:
        return changed_facts(facts(change.get("OldImage") or {}), facts(change["NewImage"])) == ()
    except Exception:
        return False


class RecordingSns:
    """The handler's (moto) SNS client, noting the id of every event SNS accepted."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.accepted: list[str] = []

    def publish_batch(self, **request: Any) -> Any:
        response = self.real.publish_batch(**request)
        bodies = {entry["Id"]: entry["Message"] for entry in request["PublishBatchRequestEntries"]}
        self.accepted.extend(json.loads(bodies[entry["Id"]])["id"] for entry in response.get("Successful", []))
        return response


@pytest.fixture
def recorded_sns(aws: dict[str, Any]) -> RecordingSns:
    """The SNS client the stream processor is built with: records the events SNS accepted."""
    return RecordingSns(aws_client("sns"))


@pytest.fixture
def stream_handler(load_handler: Callable[..., ModuleType], recorded_sns: RecordingSns) -> ModuleType:
    return load_handler("stream_processor", clients=Clients(sns=recorded_sns))


QUEUES_FED_BY_THE_STREAM = ("stream-dlq", "email-requests", "client-signals")


def test_no_stream_record_escapes_and_none_is_lost(
    stream_handler: ModuleType, recorded_sns: RecordingSns, aws: dict[str, Any], lambda_context: Any, figures: Figures
) -> None:
    seen = Counter[str]()

    @FUZZ
    @given(generated=stream_batches())
    def property_(generated: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        records, good = generated
        sns = recorded_sns
        sns.accepted.clear()
        for queue in QUEUES_FED_BY_THE_STREAM:
            drain(aws, queue)

        response = stream_handler.lambda_handler(batch(*copy.deepcopy(records)), lambda_context)

        dead = drain(aws, "stream-dlq")
        delivered = {json.loads(m["Body"])["id"] for q in ("email-requests", "client-signals") for m in drain(aws, q)}
        assert response == {"batchItemFailures": []}  # nothing here is transient: none may hold the shard back
        for letter in dead:
            assert attribute(letter, "reason"), letter
            assert attribute(letter, "source") == "stream_processor"
        letters = [json.loads(letter["Body"]) for letter in dead]
        dead_bodies = Counter(canonical(body) for body in letters if "truncated" not in body)
        assert set(dead_bodies) <= {canonical(record) for record in records}  # the records sent, unchanged
        too_large = Counter(record_id(body) for body in letters if "truncated" in body)  # only where they are kept
        published = Counter(sns.accepted)
        sent = Counter(canonical(record) for record in records)  # records left with no id may be identical
        ids = Counter(record_id(record) for record in records)
        for record in records:  # each one published or dead-lettered, once; or a MODIFY of no fact
            outcomes = (published[record_id(record)] + dead_bodies[canonical(record)] / sent[canonical(record)]
                        + too_large[record_id(record)] / ids[record_id(record)])  # fmt: skip
            assert outcomes == 1 or (outcomes == 0 and changes_no_fact(record)), (outcomes, record)
        reasons = {canonical(body): attribute(letter, "reason") for body, letter in zip(letters, dead, strict=True)}
        for record in good:
            assert record_id(record) in published, (reasons.get(canonical(record)), record)
            assert record_id(record) in delivered, record  # at risk (an email request) or removed (a signal)
        seen.update(examples=1, records=len(records), published=len(sns.accepted), dead_lettered=len(dead))

    property_()
    figures.record(**seen, unhandled=0)


# ---- SQS consumers ------------------------------------------------------------------------------------------

# What SQS can carry: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
SQS_CHAR = st.one_of(
    st.sampled_from("\t\n\r"),
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
)
SQS_TEXT = st.text(SQS_CHAR, max_size=30)
HUGE_SQS_TEXT = st.builds(operator.mul, st.text(SQS_CHAR, min_size=1, max_size=3), st.integers(100, 3000))
EXTREMES: st.SearchStrategy[Any] = st.sampled_from(
    [None, "", " ", 0, -1, 1.5, 10**40, -(10**40), 1e-300, 5e-324, 1e308, float("inf"), float("nan"), True, [], {},
     "NaN", "2026-02-30T00:00:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00", "x" * 5000,
     "\u4e2d" * 400, "\U0001f600" * 300, "a@b", "@example.com", "Europe/Nowhere"]
)  # fmt: skip
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), SQS_TEXT, HUGE_SQS_TEXT, EXTREMES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SQS_TEXT, inner, max_size=3),
    max_leaves=8,
)
EDGE_BODIES = st.sampled_from(
    ["", " ", "null", "[]", "{}", "0", '"text"', "NaN", "\ufeff{}", '{"version": 1}', '{"version": "1"}',
     '{"version": 2}', '{"version": true}', '{"version": 1.0}', '{"version": 1, "id": "\\ud800"}',
     '{"Type": "Notification", "Message": "{}"}', '{"Type": "Notification", "Message": "[]"}']
)  # fmt: skip
NESTED_BODIES = st.builds(
    lambda depth, opener, closer: opener * depth + closer * depth,
    st.integers(1, 5000),
    st.sampled_from(["[", '{"a":']),
    st.sampled_from(["", "]"]),
)
RANDOM_BODIES = st.one_of(
    SQS_TEXT,
    st.builds(json.dumps, JSON_VALUE),
    st.builds(lambda value: json.dumps(value, ensure_ascii=False), JSON_VALUE),
    st.builds(operator.mul, SQS_CHAR, st.integers(1_000, 60_000)),  # up to 240 KB: SQS holds 256 KiB
    EDGE_BODIES,
    NESTED_BODIES,
)


def _slots(value: Any, depth: int = 0) -> Iterator[tuple[int, Any, Any]]:
    """Every (depth, container, key) of a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield depth, value, key
        yield from _slots(inner, depth + 1)


@st.composite
def mutated(draw: st.DrawFn, originals: list[dict[str, Any]]) -> str:
    """A good message with one to three values (most often near the top) changed to other types or extremes, or
    left out."""
    value = copy.deepcopy(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 3))):
        slots = [(container, key) for _, container, key in sorted(_slots(value), key=operator.itemgetter(0))]
        if not slots:
            break
        shallow = slots[: max(1, len(slots) // 3)]
        container, key = draw(st.sampled_from(shallow) | st.sampled_from(slots))
        if draw(st.integers(0, 3)) == 0 and isinstance(container, dict):
            del container[key]
        else:
            container[key] = draw(st.one_of(EXTREMES, JSON_VALUE))
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


def refused(parse: Callable[[str], object]) -> Callable[[str], bool]:
    """Whether the function's own parser refuses a body, so that the body must be dead-lettered."""

    def is_bad(body: str) -> bool:
        try:
            parse(body)
        except Exception:  # InvalidRecord; anything else would be bad input too
            return True
        return False

    return is_bad


def check_sqs_batch(
    aws: dict[str, Any],
    handler: ModuleType,
    context: Any,
    *,
    source: str,
    dead_letter_queue: str,
    good: list[str],
    bad: list[str],
    order: list[int],
    is_bad: Callable[[str], bool],
) -> Counter[str]:
    """One batch of good and bad bodies, interleaved as order says; checks what an operator would see of it."""
    bodies = good + bad
    records = [sqs_record(bodies[i]) for i in order]
    drain(aws, dead_letter_queue)  # what an earlier (failed) example left there

    response = handler.lambda_handler(batch(*records), context)

    dead = drain(aws, dead_letter_queue)
    body_of = {record["messageId"]: record["body"] for record in records}
    retried = Counter(body_of[failure["itemIdentifier"]] for failure in response["batchItemFailures"])
    dead_lettered = Counter(letter["Body"] for letter in dead)
    for letter in dead:
        assert attribute(letter, "reason"), letter
        assert attribute(letter, "source") == source
    for body, sent in Counter(bodies).items():
        outcome = (dead_lettered[body], retried[body])
        if body in good:
            assert outcome == (0, 0), body[:300]
        elif is_bad(body):
            assert outcome == (sent, 0), (outcome, body[:300])  # dead-lettered, unchanged, with its reason
        else:
            assert outcome == (0, 0), (outcome, body[:300])  # valid after all: processed
    assert set(dead_lettered) <= set(bodies)
    return Counter(messages=len(records), dead_lettered=len(dead))


def client_event(values: dict[str, Any], event_name: str = "INSERT", old: dict[str, Any] | None = None) -> str:
    now = datetime.now(UTC)
    image = from_item(to_image(values))
    event = event_from_change(
        event_name=event_name,
        event_id=uuid.uuid4().hex,
        occurred_at=now,
        old_image=from_item(to_image(old)) if old else (image if event_name == "REMOVE" else None),
        new_image=None if event_name == "REMOVE" else image,
        now=now,
    )
    assert event is not None
    return encode_event(event)


ENVELOPES = [  # of clients no table holds: a mutation that is still valid is processed, and drafts nothing
    json.loads(client_event(client_values("ghost-1", engagementScore=30))),
    json.loads(client_event(client_values("ghost-2", orderCount=5), "MODIFY", old=client_values("ghost-2"))),
    json.loads(client_event(client_values("ghost-3", optedOut=True), "MODIFY", old=client_values("ghost-3"))),
    json.loads(client_event(client_values("ghost-4"), "REMOVE")),
]
EVENT_BODIES = st.one_of(RANDOM_BODIES, mutated(ENVELOPES))


@st.composite
def sqs_batches(draw: st.DrawFn, bad_bodies: st.SearchStrategy[str]) -> tuple[int, list[str], list[int]]:
    """How many good messages (one to three), the bad bodies (one to six), and the order of them all."""
    good_count = draw(st.integers(1, 3))
    bad = draw(st.lists(bad_bodies, min_size=1, max_size=6))
    return good_count, bad, draw(st.permutations(range(good_count + len(bad))))


def test_no_email_request_escapes_and_each_good_one_is_drafted(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any], lambda_context: Any, figures: Figures
) -> None:
    # One record at a time: moto's in-process DynamoDB is not thread-safe (a query iterating a table that another
    # thread writes to fails with "dictionary changed size during iteration", which real DynamoDB never does).
    handler = load_handler("email_processor", LLM_CONCURRENCY="1")
    seen = Counter[str]()

    @FUZZ
    @given(generated=sqs_batches(EVENT_BODIES))
    def property_(generated: tuple[int, list[str], list[int]]) -> None:
        good_count, bad, order = generated
        clients = [client_values(unique("good"), engagementScore=30) for _ in range(good_count)]
        for values in clients:
            aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(values))

        seen.update(
            check_sqs_batch(
                aws, handler, lambda_context, source="email_processor", dead_letter_queue="email-requests-dlq",
                good=[client_event(values) for values in clients], bad=bad, order=order, is_bad=refused(decode_event),
            )
        )  # fmt: skip
        since = datetime(2000, 1, 1, tzinfo=UTC)
        for values in clients:
            assert len(handler.services.service.emails.for_user_since(values["userId"], since)) == 1  # one draft each
        seen.update(examples=1)

    property_()
    figures.record(**seen, unhandled=0)


def pending_draft(user_id: str) -> Email:
    now = datetime.now(UTC)
    return Email(
        email_id=str(uuid.uuid4()), user_id=user_id, subject="We miss you", content="<p>Hello</p>", generated_at=now,
        engagement_score_at_time=30, status=EmailStatus.PENDING_REVIEW, created_at=now,
        recipient=f"{user_id}@example.com", text_content="Hello", preheader="Hello", band_at_time=Band.AT_RISK,
        writer="template", trigger_event_id="evt", status_changed_at=now,
        transitions=(StatusChange(from_status=None, to_status=EmailStatus.PENDING_REVIEW, at=now, by="writer"),),
    )  # fmt: skip


def test_no_client_signal_escapes_and_each_good_one_cancels_the_pending_draft(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any], lambda_context: Any, figures: Figures
) -> None:
    handler = load_handler("client_signals")
    seen = Counter[str]()

    @FUZZ
    @given(generated=sqs_batches(EVENT_BODIES))
    def property_(generated: tuple[int, list[str], list[int]]) -> None:
        good_count, bad, order = generated
        drafts = [pending_draft(unique("good")) for _ in range(good_count)]
        for draft in drafts:
            assert handler.services.service.emails.add(draft)

        seen.update(
            check_sqs_batch(
                aws, handler, lambda_context, source="client_signals", dead_letter_queue="client-signals-dlq",
                good=[client_event(client_values(draft.user_id), "REMOVE") for draft in drafts], bad=bad, order=order,
                is_bad=refused(decode_event),
            )
        )  # fmt: skip
        for draft in drafts:
            stored = handler.services.service.emails.get(draft.email_id)
            assert stored is not None
            assert stored.status is EmailStatus.CANCELLED  # the client was removed: the draft may not go out
        seen.update(examples=1)

    property_()
    figures.record(**seen, unhandled=0)


BOUNCE: dict[str, Any] = {
    "notificationType": "Bounce",
    "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-11-28T12:00:00.000Z",
               "bouncedRecipients": [{"emailAddress": "bounced@example.com", "status": "5.1.1"}], "feedbackId": "f-1"},
    "mail": {"messageId": "m-1", "timestamp": "2026-11-28T11:59:00.000Z", "source": "winback@shop.example.com",
             "destination": ["bounced@example.com"]},
}  # fmt: skip
COMPLAINT: dict[str, Any] = {
    "eventType": "Complaint",
    "complaint": {"complainedRecipients": [{"emailAddress": "other@example.com"}], "timestamp": "2026-11-28T12:00:00Z",
                  "complaintFeedbackType": "abuse", "feedbackId": "f-2"},
    "mail": {"messageId": "m-2"},
}  # fmt: skip


def bounce_of(address: str) -> dict[str, Any]:
    return BOUNCE | {"bounce": BOUNCE["bounce"] | {"bouncedRecipients": [{"emailAddress": address}]}}


@st.composite
def ses_bodies(draw: st.DrawFn) -> str:
    body = draw(st.one_of(RANDOM_BODIES, mutated([BOUNCE, COMPLAINT])))
    if draw(st.integers(0, 3)) == 0:  # inside an SNS envelope (a subscription without raw delivery)
        body = json.dumps({"Type": "Notification", "Message": body})
    return body


def test_no_ses_notification_escapes_and_each_hard_bounce_suppresses(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any], lambda_context: Any, figures: Figures
) -> None:
    handler = load_handler("ses_feedback")
    seen = Counter[str]()

    @FUZZ
    @given(generated=sqs_batches(ses_bodies()))
    def property_(generated: tuple[int, list[str], list[int]]) -> None:
        good_count, bad, order = generated
        addresses = [f"{unique('good')}@example.com" for _ in range(good_count)]

        seen.update(
            check_sqs_batch(
                aws, handler, lambda_context, source="ses_feedback", dead_letter_queue="ses-feedback-dlq",
                good=[json.dumps(bounce_of(address)) for address in addresses], bad=bad, order=order,
                is_bad=refused(lambda body: parse_notification(body, datetime.now(UTC))),
            )
        )  # fmt: skip
        for address in addresses:
            assert handler.services.service.suppressions.reason_for(address) == "bounce:Permanent"
        seen.update(examples=1)

    property_()
    figures.record(**seen, unhandled=0)


# ---- the API --------------------------------------------------------------------------------------------------

CLIENT_FIELDS = ("userId", "email", "name", "lastOrderDate", "orderCount", "averageOrderValue", "preferredCategories",
                 "engagementScore", "timezone")  # fmt: skip
FIELDS = {
    "new client": CLIENT_FIELDS,
    "client change": CLIENT_FIELDS[1:],
    "order": ("amount", "orderedAt", "orderId"),
    "email edit": ("subject", "preheader", "greeting", "paragraphs", "callToActionLabel", "signOff", "editor",
                   "version"),
    "review": ("reviewer", "reason", "version"),
    "redrive": ("max",),
}  # fmt: skip
API_VALUE = st.one_of(EXTREMES, JSON_VALUE, st.lists(st.one_of(EXTREMES, SQS_TEXT), max_size=25))


def api_bodies(fields: tuple[str, ...]) -> st.SearchStrategy[bytes | None]:
    """No body, any JSON, the route's own fields with values of any type, or text that is no JSON at all."""
    as_json = st.one_of(JSON_VALUE, st.dictionaries(st.sampled_from(fields), API_VALUE, max_size=len(fields)))
    return st.one_of(
        st.none(),
        as_json.map(lambda value: json.dumps(value).encode()),
        st.one_of(SQS_TEXT, EDGE_BODIES, NESTED_BODIES).map(str.encode),
    )


CURSOR_KEYS = ("userId", "emailId", "status", "createdAt", "decisionKey", *(status.value for status in EmailStatus))
FORGED_CURSORS = st.dictionaries(
    st.one_of(st.sampled_from(CURSOR_KEYS), TEXT), st.one_of(JSON_VALUE, SQS_TEXT.map(lambda s: {"S": s})), max_size=4
).map(lambda key: base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("="))
QUERIES = st.one_of(
    st.dictionaries(
        st.one_of(st.sampled_from(["limit", "cursor", "band", "q", "status", "refresh"]), SQS_TEXT),
        st.one_of(SQS_TEXT, HUGE_SQS_TEXT, st.integers().map(str), FORGED_CURSORS,
                  st.sampled_from(["0", "101", "-1", "1e3", "at_risk", "SENT", "true", "yes", ""])),
        max_size=4,
    ).map(urlencode),
    SQS_TEXT.map(lambda text: quote(text, safe="=&")),
)  # fmt: skip
PATH_IDS = st.one_of(st.just(""), SQS_TEXT, HUGE_SQS_TEXT).map(lambda text: quote(text, safe=""))


@pytest.fixture
def api(load_handler: Callable[..., ModuleType], aws: dict[str, Any], lambda_context: Any) -> tuple[ModuleType, str]:
    """The API, with one client and one pending draft to act on (so requests get past 'not found')."""
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=RUNBOOK_TEST_USER_8)
    load_handler("email_processor").lambda_handler(batch(message(RUNBOOK_TEST_USER_8, "evt-1")), lambda_context)
    [draft] = aws["dynamodb"].scan(TableName=aws["deployed"].tables["emails"])["Items"]
    return load_handler("api"), draft["emailId"]["S"]


def ask(api: ModuleType, context: Any, method: str, path: str, query: str, body: bytes | None) -> dict[str, Any]:
    headers = {"host": "localhost", "content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    event = http_api_event(
        method=method, path=path, query=query, headers=headers, body=body or b"", source_ip="203.0.113.9"
    )
    return api.lambda_handler(event, context)  # type: ignore[no-any-return]


def check_answer(response: dict[str, Any], request: str) -> None:
    """JSON, never a 5xx, and an error says why."""
    status = response["statusCode"]
    assert status < 500, (request, response)
    answer = json.loads(response.get("body") or "null")
    if status >= 400:
        assert isinstance(answer, dict), (request, response)
        assert answer.get("message"), (request, response)


def test_no_api_request_makes_a_server_error(
    api: tuple[ModuleType, str], lambda_context: Any, figures: Figures
) -> None:
    handler, draft_id = api
    seen = Counter[str]()

    @FUZZ
    @given(data=st.data())
    def property_(data: st.DataObject) -> None:
        def path_id(known: str) -> str:
            return data.draw(st.one_of(st.just(known), PATH_IDS))

        writes = [
            ("POST", "/api/users", "new client"),
            ("PATCH", f"/api/users/{path_id('test-user-8')}", "client change"),
            ("POST", f"/api/users/{path_id('test-user-8')}/orders", "order"),
            ("PATCH", f"/api/emails/{path_id(draft_id)}", "email edit"),
            ("POST", f"/api/emails/{path_id(draft_id)}/approve", "review"),
            ("POST", f"/api/emails/{path_id(draft_id)}/reject", "review"),
            ("POST", f"/api/pipeline/dead-letters/{path_id('email-requests-dlq')}/redrive", "redrive"),
        ]
        for method, path, fields in writes:
            query = data.draw(st.just("") | QUERIES, label=f"query {method} {path}")
            body = data.draw(api_bodies(FIELDS[fields]), label=f"body {method} {path}")
            response = ask(handler, lambda_context, method, path, query, body)
            check_answer(response, f"{method} {path}?{query} {body!r:.500}")
            seen.update(requests=1, server_errors=response["statusCode"] >= 500)
        lists = [
            "/api/users",
            "/api/emails",
            f"/api/users/{path_id('test-user-8')}/emails",
            "/api/outbox",
            "/api/stats",
        ]
        for path in lists:
            query = data.draw(QUERIES, label=f"query GET {path}")
            check_answer(ask(handler, lambda_context, "GET", path, query, None), f"GET {path}?{query}")
        seen.update(examples=1, requests=len(lists))

    property_()
    figures.record(**seen, unhandled=0)


# ---- the bugs found, each reduced to one input (regression tests) -------------------------------------------


def test_a_client_item_with_a_binary_attribute_is_published(
    stream_handler: ModuleType, recorded_sns: RecordingSns, aws: dict[str, Any], lambda_context: Any
) -> None:
    image = to_image(client_values("u-binary", engagementScore=30)) | {"avatarHash": {"B": "aGk="}}
    record = stream_record("INSERT", raw_new=image)

    stream_handler.lambda_handler(batch(record), lambda_context)

    assert [attribute(letter, "reason") for letter in drain(aws, "stream-dlq")] == []
    assert recorded_sns.accepted == [record["eventID"]]


def test_a_write_that_changes_no_fact_publishes_nothing_whatever_binaries_it_holds(
    stream_handler: ModuleType, recorded_sns: RecordingSns, aws: dict[str, Any], lambda_context: Any
) -> None:
    values = client_values("u-avatar", engagementScore=30)
    avatar_added = stream_record("MODIFY", old=values)
    avatar_added["dynamodb"]["NewImage"] = to_image(values) | {"avatarHash": {"B": "aGk="}}
    binary_name_kept = stream_record("MODIFY", old=values)  # a fact no client should hold, but this write kept it
    for side in ("OldImage", "NewImage"):
        binary_name_kept["dynamodb"][side] = to_image(values) | {"name": {"B": "aGk="}}
    binary_name_kept["dynamodb"]["NewImage"]["nickname"] = {"S": "Al"}

    stream_handler.lambda_handler(batch(avatar_added, binary_name_kept), lambda_context)

    assert drain(aws, "stream-dlq") == []
    assert recorded_sns.accepted == []
    # the fuzz test's judge agrees: it once read the base64 text as if it were bytes, and failed on both
    assert changes_no_fact(avatar_added)
    assert changes_no_fact(binary_name_kept)


def test_a_bad_record_too_large_for_an_sqs_message_is_dead_lettered_by_its_position(
    stream_handler: ModuleType, recorded_sns: RecordingSns, aws: dict[str, Any], lambda_context: Any
) -> None:
    """SQS takes 256 KiB; a stream record can be over 800 KB. Refused by the DLQ, it would be retried, and its shard
    held back, for 24 hours (maximum_retry_attempts -1)."""
    image = to_image(client_values("u-huge")) | {"name": {"N": "1"}, "notes": {"S": "\u4e2d" * 100_000}}
    huge = stream_record("INSERT", raw_new=image)
    good = stream_record("INSERT", new=client_values("u-after-huge", engagementScore=30))

    response = stream_handler.lambda_handler(batch(huge, good), lambda_context)

    assert response == {"batchItemFailures": []}
    assert recorded_sns.accepted == [good["eventID"]]
    [letter] = drain(aws, "stream-dlq")
    assert attribute(letter, "reason").startswith("invalid client item: name")
    kept = json.loads(letter["Body"])
    assert kept["eventID"] == huge["eventID"]
    assert kept["dynamodb"]["Keys"] == {"userId": {"S": "u-huge"}}
    assert kept["dynamodb"]["SequenceNumber"] == huge["dynamodb"]["SequenceNumber"]
    assert "more than an SQS message holds" in kept["truncated"]


DECODER_BREAKERS = {"deep JSON": "[" * 5000, "a 5000-digit integer": "1" * 5000}
SES_BREAKERS = {
    "notificationType a list": json.dumps({"notificationType": ["Bounce"]}),
    "complaint null": json.dumps(COMPLAINT | {"complaint": None}),
    "mail a list": json.dumps(BOUNCE | {"mail": ["m-1"]}),
    "deep JSON": "[" * 5000,
}
BREAKERS = [
    *(pytest.param("email_processor", body, id=f"email_processor-{name}") for name, body in DECODER_BREAKERS.items()),
    *(pytest.param("client_signals", body, id=f"client_signals-{name}") for name, body in DECODER_BREAKERS.items()),
    *(pytest.param("ses_feedback", body, id=f"ses_feedback-{name}") for name, body in SES_BREAKERS.items()),
]
DEAD_LETTER_QUEUES = {"email_processor": "email-requests-dlq", "client_signals": "client-signals-dlq",
                      "ses_feedback": "ses-feedback-dlq"}  # fmt: skip


@pytest.mark.parametrize(("function", "body"), BREAKERS)
def test_a_message_that_can_never_be_read_is_dead_lettered_not_retried(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any], lambda_context: Any, function: str, body: str
) -> None:
    handler = load_handler(function)

    response = handler.lambda_handler(batch(sqs_record(body), sqs_record("{}")), lambda_context)

    assert response == {"batchItemFailures": []}
    assert Counter(m["Body"] for m in drain(aws, DEAD_LETTER_QUEUES[function])) == Counter([body, "{}"])


LONG_ID = '"id":"' + "\U0001f600" * 300  # 332 characters (valid: at most 512), 1,200 bytes in the decision key


@pytest.mark.parametrize(
    ("function", "body"),
    [
        pytest.param("email_processor", client_event(client_values("u-long")).replace('"id":"', LONG_ID, 1),
                     id="email_processor-an event id that makes the decision key too long"),
        pytest.param("ses_feedback", json.dumps(bounce_of("x" * 3000 + "@example.com")),
                     id="ses_feedback-an address longer than a key"),
    ],
)  # fmt: skip
def test_a_message_whose_key_dynamodb_refuses_is_not_retried(
    load_handler: Callable[..., ModuleType], aws: dict[str, Any], lambda_context: Any, function: str, body: str
) -> None:
    handler = load_handler(function)

    response = handler.lambda_handler(batch(sqs_record(body), sqs_record("{}")), lambda_context)

    assert response == {"batchItemFailures": []}  # dead-lettered with a reason, or taken as it is: not retried


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/api/users", "[" * 5000, id="deep JSON"),
        pytest.param("POST", "/api/users", "1" * 5000, id="a 5000-digit integer"),
        pytest.param("POST", "/api/emails/{draft}/approve", '{"version": 1' + "0" * 40 + "}", id="version 10**40"),
        pytest.param("PATCH", "/api/emails/{draft}", '{"subject": "Hi", "version": 1' + "0" * 40 + "}",
                     id="edit version 10**40"),
    ],
)  # fmt: skip
def test_a_request_the_api_cannot_take_is_refused_not_a_server_error(
    api: tuple[ModuleType, str], lambda_context: Any, method: str, path: str, body: str
) -> None:
    handler, draft_id = api

    response = ask(handler, lambda_context, method, path.format(draft=draft_id), "", body.encode())

    assert 400 <= response["statusCode"] < 500, response


def test_json_nested_to_any_depth_is_refused_the_same_wherever_it_is_read(
    api: tuple[ModuleType, str], lambda_context: Any
) -> None:
    """The API checked a body's JSON, then powertools parsed it again a few dozen frames deeper: a nesting that fit
    the first stack but not the second answered 500 (found by 3,000 fuzz examples). Every depth up to Python's
    recursion limit crosses that window, wherever this test's own stack stands."""
    handler, _ = api
    depths = range(MAX_NESTING - 2, sys.getrecursionlimit() + 10)

    answers = Counter(ask(handler, lambda_context, "POST", "/api/users", "", ("[" * n + "]" * n).encode())["statusCode"]
                      for n in depths)  # fmt: skip

    assert answers == {422: len(depths)}
    nested_too_deep = json.loads(ask(handler, lambda_context, "POST", "/api/users", "", b"[" * 40)["body"])
    assert (
        nested_too_deep["message"] == f"the body is not JSON we can read: JSON nested deeper than {MAX_NESTING} levels"
    )


@pytest.mark.parametrize("path", ["/api/users", "/api/emails"])
def test_a_cursor_of_deeply_nested_json_is_refused_not_a_server_error(
    api: tuple[ModuleType, str], lambda_context: Any, path: str
) -> None:
    handler, _ = api
    cursor = base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=")  # 2,000 characters: the API takes 2,048

    response = ask(handler, lambda_context, "GET", path, urlencode({"cursor": cursor}), None)

    assert response["statusCode"] == 400, response
    assert "cursor" in json.loads(response["body"])["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "stored"),
    [
        pytest.param("POST", "/api/users", '{"email": "a@example.com", "name": "A", "averageOrderValue": 1e-300}',
                     ("averageOrderValue", 0), id="averageOrderValue 1e-300"),
        pytest.param("PATCH", "/api/users/test-user-8", '{"engagementScore": 5e-324}', ("engagementScore", 0),
                     id="engagementScore 5e-324"),
    ],
)  # fmt: skip
def test_a_number_too_small_for_dynamodb_is_taken_as_zero(
    api: tuple[ModuleType, str], lambda_context: Any, method: str, path: str, body: str, stored: tuple[str, int]
) -> None:
    handler, _ = api

    response = ask(handler, lambda_context, method, path, "", body.encode())

    assert response["statusCode"] in (200, 201), response
    name, value = stored
    assert json.loads(response["body"])[name] == value
