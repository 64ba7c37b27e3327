"""The whole pipeline under load, in the local mode: no feedback loop, every client processed, memory bounded.

Both tests run the in-process local mode as `make bench` does (moto server in a subprocess, one worker process per
function, the pollers as threads of this process) and seed the users table with BatchWriteItem, as `make seed` does.

- Feedback loop: every client is at risk, so every one is emailed; the system's own writes to the client's item
  (the computed score, then lastEmailDate) reach the stream but must publish nothing: exactly one event and one
  email per client, however many records the stream carries.
- Load: realistic clients through the whole pipeline; every at-risk client gets exactly one draft and nobody else
  does, nothing is dead-lettered, the stream and the queues end empty, and every process of the local mode stays
  within the memory its Lambda would be given. Throughput and the largest backlog seen are reported, not asserted.
  At full size the run outlasts the local mode's 10-minute rescoring sweep, whose client.rescored events are allowed
  (they must not make a second email).

That nothing was left behind is proved without depending on how records fall into batches: the stream poller read
every record the stream holds, once each (`stream_records_read`), and has none left to read; every queue is empty.
How many records the stream processor was handed (`stream_records`: a retried batch counts again, a batch that
published nothing is counted too) is reported, not asserted.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from localmode.app import LocalMode, Settings
from localmode.pollers import SchedulePoller, StreamPoller
from scripts.seed_users import generate_clients, write_clients
from stack import resources
from tests.e2e.conftest import free_port
from tests.reliability.conftest import scale

FEEDBACK_CLIENTS = scale(100, 1000)
LOAD_CLIENTS = scale(300, 10000)
SEED_CHUNK = 250  # clients a write_clients call: the sampler sees the seeding progress between calls


def drain_timeout(clients: int) -> float:
    """Generous: 2 clients/s. 10,000 clients drained here at 5 to 8 clients/s on average while moto answered every
    query by reading the whole table (the emulator now reads one partition)."""
    return 60 + clients * 0.5


# --- processes and memory, from /proc (psutil is not a dependency) -------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def _descendants(root: int) -> list[int]:
    """Every live process under root (children, grandchildren…), by the ppid in /proc/<pid>/stat."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return sorted(found)


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()


def _reset_own_peak() -> None:
    """Start this process's VmHWM afresh (Linux: `echo 5 > clear_refs`), so an earlier test's peak is not counted."""
    with contextlib.suppress(OSError):  # else the figure is this session's peak: still an upper bound
        Path("/proc/self/clear_refs").write_text("5")


def process_labels(mode: LocalMode) -> dict[int, str]:
    """The local mode's processes by pid: this one (pollers, API server), the emulator, each function's worker."""
    labels = {os.getpid(): "pollers+api (pytest)"}
    emulator = getattr(mode.emulator, "_process", None)
    if emulator is not None:
        labels[emulator.pid] = "emulator"
    for label, function in mode.functions.items():
        worker = getattr(function, "_process", None)
        if worker is not None:
            labels[worker.pid] = label
    for pid in _descendants(os.getpid()):
        if pid not in labels:  # multiprocessing's resource tracker, or anything a worker started
            command = _command(pid)
            labels[pid] = "resource_tracker" if "resource_tracker" in command else f"pid {pid}: {command[:40]}"
    return labels


def peak_rss_mb(mode: LocalMode) -> dict[str, float]:
    """Peak RSS (VmHWM) of every process of the local mode, and their sum: read before stop(), while they live."""
    peaks = {label: round(_status_kb(pid, "VmHWM") / 1024, 1) for pid, label in process_labels(mode).items()}
    peaks["total"] = round(sum(peaks.values()), 1)
    return peaks


def emulator_rss_mb(mode: LocalMode) -> float:
    emulator = getattr(mode.emulator, "_process", None)
    assert emulator is not None, "the emulator is not running"
    return round(_status_kb(emulator.pid, "VmRSS") / 1024, 1)


# --- the local mode and what is in the emulator --------------------------------------------------------------------


@pytest.fixture
def local_mode(tmp_path: Path) -> Iterator[LocalMode]:
    saved = dict(os.environ)  # start() sets the emulator's credentials in this process's environment
    settings = Settings(aws_port=free_port(), app_port=free_port(), state_dir=tmp_path, api_token="b" * 24)
    mode = LocalMode(settings, write=None)
    _reset_own_peak()
    mode.start()
    try:
        yield mode
    finally:
        mode.stop()
        os.environ.clear()
        os.environ.update(saved)


def emails_per_client(mode: LocalMode) -> Counter[str]:
    assert mode.deployed is not None
    per_client: Counter[str] = Counter()
    for page in (
        mode.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=mode.deployed.tables["emails"], ProjectionExpression="userId")
    ):
        per_client.update(item["userId"]["S"] for item in page["Items"])
    return per_client


def stream_records(mode: LocalMode) -> list[dict[str, Any]]:
    """Every record the users table's stream holds, read with an iterator of our own from the start, each once
    (by eventID, should the emulator ever hand one out twice)."""
    assert mode.deployed is not None
    streams = mode.client("dynamodbstreams")
    arn = mode.deployed.stream_arn
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        iterator = iterator["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not response["Records"]:
                break
            records += response["Records"]
            iterator = response.get("NextShardIterator")
    return list({record["eventID"]: record for record in records}.values())


def unread_stream_records(mode: LocalMode) -> int:
    """Records the stream poller has not read yet: what its own iterators would return next."""
    assert mode.deployed is not None
    streams = mode.client("dynamodbstreams")
    unread = 0
    for poller in mode.pollers:
        if isinstance(poller, StreamPoller):
            for iterator in getattr(poller, "_iterators", {}).values():
                if iterator is not None:
                    unread += len(streams.get_records(ShardIterator=iterator, Limit=1000)["Records"])
    return unread


def kind_of_write(record: dict[str, Any]) -> str:
    """Which write made a stream record: a client created, the stream processor's score, the email's mark…"""
    if record["eventName"] != "MODIFY":
        return record["eventName"]
    old, new = record["dynamodb"].get("OldImage", {}), record["dynamodb"].get("NewImage", {})
    changed = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
    if changed <= {"lastEmailDate", "lastEmailId"}:
        return "lastEmailDate"
    if changed <= {"computedScore", "band", "scoredAt"}:
        return "score"
    return "other: " + ",".join(sorted(changed))


def seed(mode: LocalMode, clients: list[dict[str, Any]], progress: list[int] | None = None) -> float:
    """Write the clients in chunks (BatchWriteItem, 25 at a time); returns when seeding started (monotonic)."""
    assert mode.deployed is not None
    dynamodb, table = mode.client("dynamodb"), mode.deployed.tables["users"]
    started = time.monotonic()
    for start in range(0, len(clients), SEED_CHUNK):
        written = write_clients(dynamodb, table, clients[start : start + SEED_CHUNK], progress=False)
        if progress is not None:
            progress[0] += written
    return started


def settle(mode: LocalMode, timeout: float) -> bool:
    """Drained, and held so while the test counts: the schedules stop starting runs (the 10-minute sweep once fired
    while a 10,000-client run was being counted, and its two writes showed as records the poller had not read yet),
    and whatever a run had already started is drained too."""
    drained = mode.wait_until_drained(timeout=timeout)
    for poller in mode.pollers:
        if isinstance(poller, SchedulePoller):
            poller.paused.set()
    return mode.wait_until_drained(timeout=300) and drained


def at_risk_clients(count: int) -> list[dict[str, Any]]:
    """Clients an upstream model scored 20 (critical), lapsed for 400 days: every one is eligible for an email."""
    now = datetime.now(UTC)
    stamp = "%Y-%m-%dT%H:%M:%S.000Z"
    return [
        {
            "userId": f"feedback-{index:05d}",
            "email": f"client.{index}@example.com",
            "name": f"Client {index}",
            "lastOrderDate": (now - timedelta(days=400)).strftime(stamp),
            "orderCount": Decimal(3),
            "averageOrderValue": Decimal("80.5"),
            "preferredCategories": ["shoes"],
            "createdAt": (now - timedelta(days=900)).strftime(stamp),
            "updatedAt": now.strftime(stamp),
            "engagementScore": Decimal(20),
        }
        for index in range(count)
    ]


class BacklogSampler(threading.Thread):
    """Every half second: messages waiting or in flight on the email queue, and clients written but not yet
    published as client.created (the stream processor's lag). Keeps the largest of each."""

    def __init__(self, mode: LocalMode, seeded: list[int]) -> None:
        super().__init__(name="backlog-sampler", daemon=True)
        assert mode.deployed is not None
        self.mode, self.seeded = mode, seeded
        self.queue_url = mode.deployed.queue_urls[resources.EMAIL_REQUESTS.logical_name]
        self.sqs = boto3.client(  # a client of its own: this thread polls while the test's thread seeds
            "sqs",
            endpoint_url=mode.endpoint_url,
            region_name=resources.REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.done = threading.Event()
        self.max_queue_depth = 0
        self.max_stream_lag = 0
        self.samples = 0

    def run(self) -> None:
        assert self.mode.activity is not None
        while not self.done.wait(0.5):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depth = sum(int(value) for value in attributes.values())
            lag = self.seeded[0] - self.mode.activity.counts.events["client.created"]
            self.max_queue_depth = max(self.max_queue_depth, depth)
            self.max_stream_lag = max(self.max_stream_lag, lag)
            self.samples += 1


# --- the tests ------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(scale(300, 1200))
def test_the_systems_own_writes_make_no_further_events(local_mode: LocalMode, figures: Any) -> None:
    mode, count = local_mode, FEEDBACK_CLIENTS
    started = seed(mode, at_risk_clients(count))
    drained = settle(mode, drain_timeout(count))
    assert mode.activity is not None
    elapsed = mode.activity.last_change_at - started
    peaks = peak_rss_mb(mode)
    summary = mode.summary()
    emails = emails_per_client(mode)
    records = stream_records(mode)
    writes = Counter(kind_of_write(record) for record in records)
    unread = unread_stream_records(mode)
    drafts = sum(summary["drafts_by_writer"].values())
    dead_lettered = sum(summary["dlq_depth"].values())
    events = sum(summary["events"].values())
    figures.record(
        clients=count,
        events_in=events,
        emails_out=drafts,
        duplicates=sum(emails.values()) - len(emails),
        lost=count - len(emails),
        dead_lettered=dead_lettered,
        stream_records=len(records),
        stream_writes=dict(writes),
        stream_records_read=summary["stream_records_read"],
        stream_records_handed_over=summary["stream_records"],
        events_from_own_writes=summary["events"].get("client.updated", 0),
        peak_rss_mb=peaks,
        seconds=round(elapsed, 1),
        clients_per_s=round(count / elapsed, 1),
    )
    print(f"\nfeedback loop, {count} clients: {summary}\nstream writes {dict(writes)}\npeak RSS MB {peaks}")

    assert drained, f"not drained within {drain_timeout(count):.0f} s: {mode.failure()}"
    assert summary["function_errors"] == 0
    assert dead_lettered == 0, summary["dlq_depth"]
    # Three writes per client reached the stream: the create, the stream processor's score, and the email
    # processor's lastEmailDate; the stream processor read them all...
    assert writes == {"INSERT": count, "score": count, "lastEmailDate": count}
    assert (summary["stream_records_read"], unread) == (len(records), 0)
    # ...and only the creates became events: a write of the system's own would be a client.updated.
    assert summary["events"] == {"client.created": count}
    assert summary["bands"] == {"critical": count}
    assert drafts == count
    assert len(emails) == count, "every client has an email"
    assert set(emails.values()) == {1}, "no client has two"
    assert summary["at_risk_without_draft"] == []
    assert summary["drafts_for_others"] == []


class SlowReads:
    """The emulator under load: every read of the stream that finds records answers `seconds` late."""

    def __init__(self, streams: Any, seconds: float) -> None:
        self.streams, self.seconds = streams, seconds

    def get_records(self, **request: Any) -> dict[str, Any]:
        response = self.streams.get_records(**request)
        if response["Records"]:
            time.sleep(self.seconds)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.streams, name)


@pytest.mark.timeout(120)
def test_drained_means_the_stream_was_read_to_its_end_however_slowly_it_answers(local_mode: LocalMode) -> None:
    """The 10,000-client run once reported drained with 6,419 records still unread: a read slower than the drain
    check's quiet period looked like quiet, since a poller waiting on a read is not busy."""
    mode, count = local_mode, 10
    [poller] = [poller for poller in mode.pollers if isinstance(poller, StreamPoller)]
    poller.streams = SlowReads(poller.streams, seconds=0.8)
    seed(mode, at_risk_clients(count))

    drained = mode.wait_until_drained(timeout=90, quiet_for=0.4)

    summary = mode.summary()
    assert drained
    assert summary["events"] == {"client.created": count}
    assert (summary["stream_records_read"], unread_stream_records(mode)) == (len(stream_records(mode)), 0)


@pytest.mark.timeout(scale(300, 6000))
def test_ten_thousand_clients_all_processed_with_memory_bounded(local_mode: LocalMode, figures: Any) -> None:
    mode, count = local_mode, LOAD_CLIENTS
    clients = generate_clients(count, seed=11)
    emulator_at_start = emulator_rss_mb(mode)
    seeded = [0]
    sampler = BacklogSampler(mode, seeded)
    sampler.start()
    try:
        started = seed(mode, clients, seeded)
        seeding_seconds = time.monotonic() - started
        drained = settle(mode, drain_timeout(count))
    finally:
        sampler.done.set()
        sampler.join(10)
    assert mode.activity is not None
    elapsed = mode.activity.last_change_at - started
    peaks = peak_rss_mb(mode)
    summary = mode.summary()
    emails = emails_per_client(mode)
    in_stream = len(stream_records(mode))
    unread = unread_stream_records(mode)
    depths = mode.queue_depths()
    at_risk = summary["bands"].get("critical", 0) + summary["bands"].get("at_risk", 0)
    drafts = sum(summary["drafts_by_writer"].values())
    dead_lettered = sum(summary["dlq_depth"].values())
    events = sum(summary["events"].values())
    figures.record(
        clients=count,
        at_risk=at_risk,
        events_in=events,
        rescored_events=summary["events"].get("client.rescored", 0),
        emails_out=drafts,
        duplicates=sum(emails.values()) - len(emails),
        lost=len(summary["at_risk_without_draft"]),
        dead_lettered=dead_lettered,
        stream_records=in_stream,
        stream_records_read=summary["stream_records_read"],
        stream_records_handed_over=summary["stream_records"],
        max_email_queue_depth=sampler.max_queue_depth,
        max_stream_lag_clients=sampler.max_stream_lag,
        peak_rss_mb=peaks,
        emulator_growth_mb=round(peaks["emulator"] - emulator_at_start, 1),
        seeding_seconds=round(seeding_seconds, 1),
        seconds=round(elapsed, 1),
        clients_per_s=round(count / elapsed, 1),
    )
    print(
        f"\nload, {count} clients: {summary['bands']}, {summary['events']}, {drafts} drafts, "
        f"{in_stream} stream records, {summary['stream_records_read']} read, {summary['stream_records']} handed over "
        f"(retries included), DLQ {summary['dlq_depth']}"
        f"\n{elapsed:.1f} s ({count / elapsed:.1f} clients/s; seeding alone {seeding_seconds:.1f} s); "
        f"largest backlog: {sampler.max_queue_depth} messages on the email queue, {sampler.max_stream_lag} clients "
        f"not yet published ({sampler.samples} samples)\npeak RSS MB {peaks}; emulator at start {emulator_at_start} MB"
    )

    # Every client processed: one event each, a draft for each at-risk client and for nobody else, once.
    assert drained, f"not drained within {drain_timeout(count):.0f} s: {mode.failure()}"
    assert summary["function_errors"] == 0
    assert dead_lettered == 0, summary["dlq_depth"]
    assert sum(summary["bands"].values()) == count
    assert "unscored" not in summary["bands"], "every client was scored"
    # The daily sweep (every 10 minutes here) may run meanwhile: it publishes client.rescored, at most once a
    # client. The system's own writes publish nothing (no client.updated).
    assert set(summary["events"]) <= {"client.created", "client.rescored"}, summary["events"]
    assert summary["events"].get("client.rescored", 0) <= count
    assert summary["events"]["client.created"] == count, summary["events"]
    assert at_risk > 0
    assert summary["at_risk_without_draft"] == []
    assert summary["drafts_for_others"] == []
    assert drafts == at_risk
    assert set(emails.values()) == {1}, "no client has two emails"
    # Nothing left behind: the poller read every record the stream holds, once each, and has none left to read;
    # nothing waits on any queue.
    assert (summary["stream_records_read"], unread) == (in_stream, 0), f"{unread} stream records unread"
    assert depths == dict.fromkeys(depths, 0), depths
    # Memory: each function's worker stays within the memory its Lambda is given (the figure Terraform sets),
    # whatever the number of clients; the emulator and the pollers' process are reported.
    for label, function in mode.functions.items():
        assert peaks[label] < function.spec.memory, f"{label} peaked at {peaks[label]} MB of {function.spec.memory}"
