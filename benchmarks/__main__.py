"""make bench: measured figures for this machine.

1. Cold-start import cost: each handler module imported in a fresh process (config, clients, everything its
   init does), next to a bare `import boto3` plus one client; then again as Lambda runs it: Python 3.12, the
   function's zip and the layer (3.12 bytecode), in a runtime holding only what Lambda's provides.
2. Stream processor: records per second through the real handler on in-process moto, and SNS calls per 100
   records.
3. The LLM writer: wall time of a batch of 10 against a local OpenAI-compatible server answering in 300 ms (the
   messages are written concurrently), and tokens and estimated cost per 1,000 emails at the default model's prices.
4. DynamoDB request units per drafted and per sent email, priced by benchmarks/capacity.py from the items each call
   reads and writes (moto charges nothing), and their cost per 1,000 at on-demand prices.
5. Local end to end: clients per second from seeding 1,000 (then 10,000) clients until the pipeline has drained,
   next to the emulator's raw sequential put_item rate measured in the same run (the ceiling here).
6. The rescoring sweep: the CPU cost per client of reading, scoring and deciding (in process), and clients
   rescored per second for 100,000 clients in the local mode (bulk-loaded, already scored, with the stream poller
   paused, so the figure is the sweep's, not the seeding's), swept 30 days later so some bands change.
7. Order import: scripts/import_orders.py's rate into the local mode next to the emulator's raw batch writes.
8. The churn model: the CDNOW reference fit, the 39-week holdout compared with the rule score (AUC, MAE), fit times
   for 10,000 and 100,000 clients, recovery of known parameters, and the scoring cost per client
   (benchmarks/churn_model.py).
9. Product candidates: the co-purchase counts built from about 100,000 orders, and one client's candidates
   (benchmarks/recommendations.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stack.resources import sample_environment

REPO_ROOT = Path(__file__).resolve().parent.parent
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
IMPORT_PROBE = """
import sys, time
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
print(elapsed * 1000, int("openai" in sys.modules))
"""


def _import_ms(
    statement: str,
    cwd: Path,
    environment: dict[str, str],
    runs: int,
    *,
    interpreter: list[str] | None = None,
    prelude: str = "",
) -> tuple[float, bool]:
    times, imported_openai = [], False
    for _ in range(runs):
        env = {**os.environ, **FAKE_AWS, **environment, "PYTHONDONTWRITEBYTECODE": "1"}
        output = subprocess.run(
            [*(interpreter or [sys.executable]), "-c", prelude + IMPORT_PROBE.format(statement=statement)],
            cwd=cwd, env=env, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        times.append(float(output[0]))
        imported_openai |= output[1] == "1"
    return statistics.median(times), imported_openai


def import_times(runs: int) -> None:
    print(f"1. Cold-start import time (fresh process, median of {runs})")
    baseline, _ = _import_ms("import boto3; boto3.client('dynamodb')", REPO_ROOT, {}, runs)
    print(f"   {'import boto3 + one client':<34} {baseline:7.0f} ms")
    for name in ("stream_processor", "email_processor", "api"):
        elapsed, openai = _import_ms("import handler", REPO_ROOT / "functions" / name, sample_environment(name), runs)
        print(f"   {name + ' handler':<34} {elapsed:7.0f} ms   {elapsed / baseline:4.1f} times the baseline   "
              f"imports openai: {'yes' if openai else 'no'}")  # fmt: skip


def packaged_import_times(runs: int) -> None:
    """Each handler as Lambda loads it: from its zip and the layer (3.12 bytecode), in a clean Python 3.12 that
    holds only what the runtime provides, next to the same runtime's `import boto3` plus one client."""
    from scripts import package

    print(f"\n   As Lambda runs them: Python 3.12, the function's zip and the layer, isolated (median of {runs})")
    try:
        python312 = package.find_python312()
    except package.PackagingError as exc:
        print(f"   skipped: {exc}")
        return
    architecture = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as temporary:
        root = Path(temporary)
        runtime = package.lambda_runtime(root, python312)
        with zipfile.ZipFile(package.package_layer(architecture, root / "dist", python312)) as layer:
            layer.extractall(root / "opt")

        def probe(statement: str, task: Path, environment: dict[str, str]) -> tuple[float, bool]:
            code = f"import sys; sys.path[:0] = [{str(task)!r}, {str(root / 'opt' / 'python')!r}]\n"
            return _import_ms(statement, task, environment, runs, interpreter=[str(runtime), "-I"], prelude=code)

        baseline, _ = probe("import boto3; boto3.client('dynamodb')", root, {})
        print(f"   {'import boto3 + one client':<34} {baseline:7.0f} ms")
        for name in ("stream_processor", "email_processor", "api"):
            task = root / "task" / name
            with zipfile.ZipFile(package.package_function(name, root / "dist")) as function:
                function.extractall(task)
            elapsed, _ = probe("import handler", task, sample_environment(name))
            print(f"   {name + ' handler':<34} {elapsed:7.0f} ms   {elapsed / baseline:4.1f} times the baseline")


def _drain(sqs: Any, queue_url: str) -> None:
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)


def stream_throughput(batches: int) -> None:
    os.environ.update(FAKE_AWS)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    import importlib

    import boto3
    from moto import mock_aws

    from engagement import bootstrap
    from engagement.adapters import aws as engagement_aws
    from stack import resources
    from tests.support.events import client_values, stream_record

    with mock_aws():
        clients = {name: boto3.client(name) for name in resources.SERVICES}
        deployed = resources.create_all(clients, endpoint_url="")
        os.environ.update(resources.function_environment(resources.STREAM_PROCESSOR, deployed))
        handler = importlib.import_module("functions.stream_processor.handler")
        calls: list[int] = []
        engagement_aws.client("sns").meta.events.register(  # the SNS client the publisher uses
            "provide-client-params.sns.PublishBatch", lambda **kwargs: calls.append(1)
        )
        events = [
            {"Records": [stream_record("INSERT", new=client_values(f"b{b}-{i}")) for i in range(100)]}
            for b in range(batches)
        ]
        context = type("Context", (), {"function_name": "bench", "memory_limit_in_mb": 256, "aws_request_id": "r",
                                       "invoked_function_arn": "arn:aws:lambda:us-east-1:1:function:bench",
                                       "get_remaining_time_in_millis": lambda self: 60_000})()  # fmt: skip
        queue_url = deployed.queue_urls["email-requests"]
        on_moto = 0.0
        for event in events:
            started = time.perf_counter()
            assert handler.lambda_handler(event, context) == {"batchItemFailures": []}
            on_moto += time.perf_counter() - started
            _drain(clients["sqs"], queue_url)  # as the email processor would: moto slows down as a queue grows

        class InstantAws:  # answers at once, so what is left is the handler's own CPU time
            def publish_batch(self, **request: Any) -> dict[str, Any]:
                entries = request["PublishBatchRequestEntries"]
                return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in entries], "Failed": []}

            def update_item(self, **_: Any) -> dict[str, Any]:
                return {}

        instant = InstantAws()
        handler.services = bootstrap.stream_processor(
            handler.config, clients=bootstrap.Clients(sns=instant, dynamodb=instant)
        )  # type: ignore[arg-type]
        started = time.perf_counter()
        for event in events:
            assert handler.lambda_handler(event, context) == {"batchItemFailures": []}
        own = time.perf_counter() - started
    records = 100 * batches
    print(f"\n2. Stream processor ({records} INSERT records in batches of 100)")
    print(f"   {records / on_moto:7.0f} records/s on in-process moto (its SNS→SQS delivery and score writes included)")
    per_record = own / records * 1e3
    print(f"   {records / own:7.0f} records/s handler CPU alone ({per_record:.2f} ms per record; AWS answers at once)")
    print(f"   {len(calls) / batches:7.1f} SNS PublishBatch calls per 100 records")


class _EmulatorMeter:
    """CPU time moto's in-process emulator spends answering the AWS calls made inside `with meter:`, summed over
    threads (under one GIL they cannot overlap), and how many calls."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.cpu_s, self.calls = 0.0, 0
        self._saved: Any = None

    def reset(self) -> None:
        self.cpu_s, self.calls = 0.0, 0

    def __enter__(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        self._saved = real = BotocoreStubber.process_request
        meter = self

        def timed(stubber: Any, request: Any) -> Any:
            started = time.thread_time()
            try:
                return real(stubber, request)
            finally:
                with meter._lock:
                    meter.cpu_s += time.thread_time() - started
                    meter.calls += 1

        BotocoreStubber.process_request = timed  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        BotocoreStubber.process_request = self._saved  # type: ignore[method-assign]


def llm_batch(latency: float, runs: int) -> None:
    """A batch of 10 through the email processor, the LLM answering after `latency` s; and tokens and cost."""
    os.environ.update(FAKE_AWS)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    import importlib
    import json as json_module
    from datetime import UTC, datetime

    import boto3
    from moto import mock_aws

    from engagement.adapters.store.dynamo import from_item
    from engagement.config import DEFAULT_PRICES
    from engagement.domain.events import encode_event, event_from_change
    from engagement.domain.models import Client
    from engagement.domain.scoring import score_client
    from engagement.writer import WriteRequest
    from engagement.writer.prompt import RESPONSE_FORMAT, facts_message, system_prompt
    from localmode import emulator_dynamodb
    from stack import resources
    from tests.fakes.llm_server import GOOD_EMAIL, FakeLLM, running
    from tests.support.events import client_values, sqs_record, to_image

    emulator_dynamodb.install()  # DynamoDB as the local mode emulates it: requests atomic, transactions cheap
    emulated = _EmulatorMeter()
    walls, emulator_cpu, calls = [], [], []
    with running(FakeLLM(latency=latency)) as fake, mock_aws():
        clients = {name: boto3.client(name) for name in resources.SERVICES}
        deployed = resources.create_all(clients, endpoint_url="")
        os.environ.update(resources.function_environment(resources.EMAIL_PROCESSOR, deployed))
        os.environ.update(resources.secrets_in_environment(
            resources.EMAIL_PROCESSOR, api_token="", unsubscribe_secret="bench-unsubscribe-secret-0123456789",  # noqa: S106
            public_base_url="https://api.example.com",
        ))  # fmt: skip
        os.environ.update(OPENROUTER_API_KEY="bench-key", LLM_BASE_URL=fake.base_url)
        handler = importlib.import_module("functions.email_processor.handler")
        context = type("Context", (), {"function_name": "bench", "memory_limit_in_mb": 512, "aws_request_id": "r",
                                       "invoked_function_arn": "arn:aws:lambda:us-east-1:1:function:bench",
                                       "get_remaining_time_in_millis": lambda self: 60_000})()  # fmt: skip
        for run in range(runs):
            records = []
            for i in range(10):
                image = to_image(client_values(f"r{run}-{i}", engagementScore=20))
                clients["dynamodb"].put_item(TableName=deployed.tables["users"], Item=image)
                now = datetime.now(UTC)
                event = event_from_change(event_name="INSERT", event_id=f"r{run}-{i}", occurred_at=now,
                                          old_image=None, new_image=from_item(image), now=now)  # fmt: skip
                assert event is not None
                records.append(sqs_record(encode_event(event)))
            emulated.reset()
            started = time.perf_counter()
            with emulated:
                assert handler.lambda_handler({"Records": records}, context) == {"batchItemFailures": []}
            walls.append(time.perf_counter() - started)
            emulator_cpu.append(emulated.cpu_s)
            calls.append(emulated.calls)
    wall = statistics.median(walls)
    print(
        f"\n3. LLM writer: a batch of 10 messages, the LLM answering after {latency * 1000:.0f} ms (median of {runs})"
    )
    print(f"   {wall * 1000:7.0f} ms wall time for the batch, next to {latency * 1000:.0f} ms for one LLM call")
    print(
        f"           (one after the other: {10 * latency * 1000:.0f} ms); at most {fake.most_in_flight} calls at once"
    )
    cpu, answered = statistics.median(emulator_cpu), statistics.median(calls)
    print(
        f"   of which the in-process emulator answering {answered:.0f} AWS calls ({answered / 10:.0f} an email): "
        f"{cpu * 1000:.0f} ms of CPU under the process's one GIL;"
    )
    print(f"           less that, {(wall - cpu) * 1000:.0f} ms = {(wall - cpu) / latency:.1f} LLM latencies "
          "(in AWS those calls are network waits, a few ms each, made while other threads run)")  # fmt: skip

    # Tokens: the real prompt for a typical client, and a typical answer, at ~4 characters per token.
    client = Client.model_validate({**client_values("typical"), "engagementScore": 30})
    request = WriteRequest(client=client, score=score_client(client, datetime.now(UTC)), now=datetime.now(UTC))
    prompt_chars = len(system_prompt("Northwind Apparel", ())) + len(facts_message(request))
    prompt_chars += len(json_module.dumps(RESPONSE_FORMAT))  # the schema is sent too
    prompt_tokens, completion_tokens = prompt_chars / 4, len(json_module.dumps(GOOD_EMAIL)) / 4
    price = DEFAULT_PRICES["openai/gpt-4o-mini"]
    per_thousand = 1000 * (prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000
    print(f"   per 1,000 emails with openai/gpt-4o-mini (${price.prompt}/M in, ${price.completion}/M out):")
    print(f"           ~{prompt_tokens * 1000:,.0f} prompt + ~{completion_tokens * 1000:,.0f} completion tokens, "
          f"~${per_thousand:.3f}")  # fmt: skip
    print("           (estimated at 4 characters a token; a repair or a regeneration adds a call)")


def request_units(emails: int) -> None:
    """DynamoDB request units per drafted and per sent email (benchmarks/capacity.py prices every call from the
    items it reads and writes), and the cost per 1,000 at on-demand prices."""
    os.environ.update(FAKE_AWS)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    import importlib
    from datetime import UTC, datetime, timedelta

    import boto3
    from moto import mock_aws

    from benchmarks.capacity import PRICES_SOURCE, CapacityMeter, Tally
    from engagement import bootstrap
    from engagement.adapters import aws as engagement_aws
    from engagement.adapters.store.dynamo import from_item
    from engagement.config import ApiConfig
    from engagement.domain.events import encode_event, event_from_change
    from engagement.domain.models import EmailStatus
    from localmode import emulator_dynamodb
    from stack import resources
    from tests.fakes.llm_server import FakeLLM, running
    from tests.support.clock import FixedClock
    from tests.support.events import client_values, sqs_record, to_image

    emulator_dynamodb.install()  # requests atomic, as in DynamoDB: the email processor writes from ten threads
    with running(FakeLLM(latency=0)) as fake, mock_aws():
        clients = {name: boto3.client(name) for name in resources.SERVICES}
        deployed = resources.create_all(clients, endpoint_url="")
        secrets = {"api_token": "bench-token-0123456789abcdef0123456789", "public_base_url": "https://api.example.com",
                   "unsubscribe_secret": "bench-unsubscribe-secret-0123456789"}  # fmt: skip
        for function in (resources.API, resources.EMAIL_PROCESSOR):
            os.environ.update(resources.function_environment(function, deployed))
            os.environ.update(resources.secrets_in_environment(function, **secrets))
        os.environ.update(OPENROUTER_API_KEY="bench-key", LLM_BASE_URL=fake.base_url)
        handler = importlib.import_module("functions.email_processor.handler")
        meter = CapacityMeter(engagement_aws.client("dynamodb"), reader=clients["dynamodb"])
        context = type("Context", (), {"function_name": "bench", "memory_limit_in_mb": 512, "aws_request_id": "r",
                                       "invoked_function_arn": "arn:aws:lambda:us-east-1:1:function:bench",
                                       "get_remaining_time_in_millis": lambda self: 60_000})()  # fmt: skip
        now = datetime.now(UTC)
        records = []
        for i in range(emails):
            image = to_image(client_values(f"units-{i}", engagementScore=20))
            clients["dynamodb"].put_item(TableName=deployed.tables["users"], Item=image)
            event = event_from_change(event_name="INSERT", event_id=f"units-{i}", occurred_at=now,
                                      old_image=None, new_image=from_item(image), now=now)  # fmt: skip
            assert event is not None
            records.append(sqs_record(encode_event(event)))
        with meter.counting("draft") as drafting:
            for start in range(0, emails, 10):
                answer = handler.lambda_handler({"Records": records[start : start + 10]}, context)
                assert answer == {"batchItemFailures": []}, answer
        services = bootstrap.api(ApiConfig.from_env(), assets={}, clock=FixedClock(now + timedelta(hours=1)))
        drafted = services.delivery.emails.in_status(EmailStatus.PENDING_REVIEW)
        with meter.counting("send") as sending:
            sent = [services.delivery.approve(email.email_id, by="bench") for email in drafted]
    assert len(drafted) == emails, f"{len(drafted)} of {emails} drafted"
    assert all(email.status is EmailStatus.SENT for email in sent), "not all went out"

    def line(what: str, tally: Tally) -> None:
        writes, reads = tally.write_units / emails, tally.read_units / emails
        where = ", ".join(f"{name.split('-')[-1]} {units / emails:.1f}"
                          for name, units in sorted(tally.writes.items(), key=lambda pair: -pair[1]))  # fmt: skip
        print(f"   {what:<20} {writes:5.1f} write units, {reads:4.1f} read units; "
              f"${tally.cost_usd() / emails * 1000:.4f} per 1,000")  # fmt: skip
        print(f"   {'':<20} writes by table/index: {where}")

    print(f"\n4. DynamoDB request units per email ({emails} drafted by the email processor, then approved and sent)")
    line("drafting an email", drafting)
    line("approving, sending", sending)
    both = Tally()
    both.writes.update({"all": drafting.write_units + sending.write_units})
    both.reads.update({"all": drafting.read_units + sending.read_units})
    print(f"   {'both':<20} {both.write_units / emails:5.1f} write units, {both.read_units / emails:4.1f} read units; "
          f"${both.cost_usd() / emails * 1000:.4f} per 1,000 drafted and sent")  # fmt: skip
    print(f"   ({PRICES_SOURCE}: $0.625 per million write units, $0.125 per million read units)")


def local_end_to_end(clients: int, put_items: int) -> None:
    from localmode.app import LocalMode, Settings
    from scripts.seed_users import generate_clients, write_clients
    from tests.e2e.conftest import free_port

    with tempfile.TemporaryDirectory() as state:
        settings = Settings(aws_port=free_port(), app_port=free_port(), state_dir=Path(state), api_token="b" * 24)
        mode = LocalMode(settings, write=None)
        mode.start()
        try:
            dynamodb = mode.client("dynamodb")
            dynamodb.create_table(
                TableName="bench-raw", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
            )  # fmt: skip
            item = {"userId": {"S": "x"}, "email": {"S": "x@example.com"}, "orderCount": {"N": "3"}}
            started = time.perf_counter()
            for i in range(put_items):
                dynamodb.put_item(TableName="bench-raw", Item={**item, "userId": {"S": f"u{i}"}})
            raw_rate = put_items / (time.perf_counter() - started)

            seeded = generate_clients(clients, seed=1)
            started = time.monotonic()
            write_clients(dynamodb, mode.deployed.tables["users"], seeded, progress=False)  # type: ignore[union-attr]
            drained = mode.wait_until_drained(timeout=60 + clients * 0.5)
            assert mode.activity is not None
            elapsed = mode.activity.last_change_at - started
            summary = mode.summary()
        finally:
            mode.stop()
    drafts = sum(summary["drafts_by_writer"].values())
    print(
        f"\n5. Local end to end ({clients} seeded clients: stream → SNS → SQS → drafts, then the system's own writes)"
    )
    print(f"   {raw_rate:7.0f} put_item/s   the emulator's raw sequential rate (the ceiling here)")
    print(f"   {clients / elapsed:7.1f} clients/s   seeding start to last batch: {elapsed:.1f} s"
          f"{'' if drained else '   (DID NOT DRAIN)'}")  # fmt: skip
    print(f"   {summary['stream_records']} stream records, {sum(summary['events'].values())} events, {drafts} drafts, "
          f"{summary['sns_calls']} PublishBatch calls, DLQ {json.dumps(summary['dlq_depth'])}")  # fmt: skip


def rescore_sweep(clients: int) -> None:
    from datetime import UTC, datetime, timedelta

    from engagement.adapters.segment_queue import SegmentQueue
    from engagement.domain.events import client_from_item
    from engagement.domain.scoring import score_client
    from engagement.domain.sweep import RescoreRules, assess, plan_run
    from localmode.app import LocalMode, Settings
    from scripts.seed_users import generate_clients, write_clients
    from stack import resources
    from tests.e2e.conftest import free_port

    now = datetime.now(UTC)
    later = now + timedelta(days=30)
    items = generate_clients(clients, seed=3)
    for item in items:  # as the stream processor left them: scored when they were written
        score = score_client(client_from_item(item), now)
        item.update(computedScore=score.computed_value, band=score.band.value, scoredAt=now.isoformat())
    rules = RescoreRules(cooldown=timedelta(days=7))
    started = time.process_time()
    due = 0
    for item in items:
        client = client_from_item(item)
        due += assess(client, score_client(client, later), later, later.date().isoformat(), rules) is not None
    cpu_us = (time.process_time() - started) / len(items) * 1e6

    with tempfile.TemporaryDirectory() as state:
        settings = Settings(aws_port=free_port(), app_port=free_port(), state_dir=Path(state), api_token="b" * 24)
        mode = LocalMode(settings, write=None)
        mode.start()
        try:
            stream = mode.pollers[0]
            stream.paused.set()  # the bulk load is not the benchmark
            assert mode.deployed is not None
            loading = time.monotonic()
            write_clients(mode.client("dynamodb"), mode.deployed.tables["users"], items, progress=False)
            loaded_s = time.monotonic() - loading
            (Path(state) / "clock-offset").write_text(f"{(later - datetime.now(UTC)).total_seconds():.3f}\n")
            sqs = mode.client("sqs")
            url = mode.deployed.queue_urls[resources.RESCORE_SEGMENTS.logical_name]
            segments = int(resources.sample_environment(resources.RESCORE.logical_name)["RESCORE_SEGMENTS"])
            sweeping = time.monotonic()
            SegmentQueue(url, sqs).send(plan_run(later, segments))
            while mode.queue_depths()[resources.RESCORE_SEGMENTS.logical_name]:
                time.sleep(0.2)
            swept_s = time.monotonic() - sweeping
        finally:
            mode.stop()
    print(f"\n6. Rescoring sweep ({clients:,} clients, {segments} segments, swept 30 days after they were scored)")
    print(f"   {cpu_us:7.1f} µs CPU per client to read, score and decide (in process; {due:,} would publish)")
    print(f"   {clients / swept_s:7.0f} clients/s rescored in the local mode: {swept_s:.1f} s "
          f"(bulk load {loaded_s:.1f} s, stream poller paused)")  # fmt: skip


def order_import(orders: int, clients: int) -> None:
    import csv
    import random
    from datetime import UTC, datetime, timedelta

    from localmode.app import LocalMode, Settings
    from scripts.seed_users import CATEGORIES, generate_catalog, write_items
    from tests.e2e.conftest import free_port

    rng = random.Random(5)
    now = datetime.now(UTC)
    catalog = generate_catalog(random.Random(5), now)
    people = [{"userId": f"imp-{n:06}", "email": f"imp-{n}@example.com", "name": f"Client {n}",
               "createdAt": "2020-01-01T00:00:00.000Z", "orderCount": 0, "averageOrderValue": 0,
               "preferredCategories": [rng.choice(CATEGORIES)], "engagementScore": 90}
              for n in range(clients)]  # engagementScore: in good standing, so seeding them drafts nothing  # fmt: skip
    with tempfile.TemporaryDirectory() as state:
        path = Path(state) / "orders.csv"
        lines = 0
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["userId", "orderId", "orderedAt", "amount", "currency", "productId", "quantity", "unitPrice"])
            for n in range(orders):  # in date order, as a shop exports them
                at = (now - timedelta(days=730) + timedelta(days=730 * n / orders)).strftime("%Y-%m-%dT%H:%M:%SZ")
                buyer = rng.choice(people)["userId"]
                basket = [rng.choice(catalog) for _ in range(rng.choice((1, 1, 2, 3)))]
                amount = sum(product["price"] for product in basket)
                for product in basket:
                    out.writerow([buyer, f"ord-{n:07}", at, amount, "USD", product["productId"], 1, product["price"]])
                    lines += 1
        settings = Settings(aws_port=free_port(), app_port=free_port(), state_dir=Path(state), api_token="b" * 24)
        mode = LocalMode(settings, write=None)
        mode.start()
        try:
            assert mode.deployed is not None
            dynamodb = mode.client("dynamodb")
            write_items(dynamodb, mode.deployed.tables["products"], catalog, unit="product", progress=False)
            write_items(dynamodb, mode.deployed.tables["users"], people, unit="client", progress=False)
            mode.wait_until_drained(timeout=60 + clients * 0.5)
            keys = (("userId", "HASH"), ("orderId", "RANGE"))
            dynamodb.create_table(
                TableName="bench-raw-orders", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
                AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
            )  # fmt: skip
            raw = [{"userId": f"imp-{n % clients:06}", "orderId": f"raw-{n}", "orderedAt": "2026-01-01T00:00:00.000Z",
                    "amount": 10, "currency": "USD", "source": "import",
                    "lineItems": [{"productId": "top-0001", "quantity": 1, "unitPrice": 10}]}
                   for n in range(min(orders, 20_000))]  # fmt: skip
            started = time.perf_counter()
            write_items(dynamodb, "bench-raw-orders", raw, unit="order", progress=False)
            raw_rate = len(raw) / (time.perf_counter() - started)

            environment = {**os.environ, "LOCAL_AWS_PORT": str(settings.aws_port), "LOCAL_STATE_DIR": state}
            started = time.perf_counter()
            finished = subprocess.run(
                [sys.executable, "scripts/import_orders.py", str(path), "--no-progress"],
                cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
            )  # fmt: skip
            import_s = time.perf_counter() - started
            recorded = sum(page["Count"] for page in dynamodb.get_paginator("scan").paginate(
                TableName=mode.deployed.tables["orders"], Select="COUNT"))  # fmt: skip
        finally:
            mode.stop()
    print(f"\n7. Order import ({orders:,} orders, {lines:,} CSV lines, {clients:,} clients; the pipeline on)")
    print(f"   {raw_rate:7.0f} items/s   the emulator's raw BatchWriteItem rate (25 a call, the ceiling here)")
    failed = "" if finished.returncode == 0 else f"   (FAILED: {finished.stderr[-300:]})"
    print(f"   {orders / import_s:7.0f} orders/s  scripts/import_orders.py: {import_s:.1f} s, "
          f"{recorded:,} orders in the table{failed}")  # fmt: skip


@contextmanager
def own_environment() -> Iterator[None]:
    """An in-process benchmark's settings (fake credentials, an LLM key) must not leak into the next one: the
    local mode hands the shell's LLM settings to its functions."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--import-runs", type=int, default=5)
    parser.add_argument("--stream-batches", type=int, default=20)
    parser.add_argument(
        "--clients",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1000, 10000],
        help="seeded clients for the local end-to-end runs, one run each (default 1000,10000)",
    )
    parser.add_argument("--put-items", type=int, default=1000)
    parser.add_argument("--llm-latency", type=float, default=0.3)
    parser.add_argument("--llm-runs", type=int, default=3)
    parser.add_argument("--rescore-clients", type=int, default=100_000)
    parser.add_argument("--unit-emails", type=int, default=50, help="emails drafted and sent to meter request units")
    parser.add_argument("--import-orders", type=int, default=100_000, help="orders in the import benchmark's file")
    parser.add_argument("--import-clients", type=int, default=10_000, help="clients the imported orders are for")
    parser.add_argument("--only", type=int, nargs="*", help="run only these sections (numbers)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every benchmark still runs")
    args = parser.parse_args()
    if args.quick:
        args.import_runs, args.stream_batches, args.clients, args.put_items, args.llm_runs = 1, 1, [20], 20, 1
        args.rescore_clients, args.unit_emails, args.import_orders, args.import_clients = 200, 10, 200, 20
    print(f"Benchmarks on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")

    def wanted(section: int) -> bool:
        return not args.only or section in args.only

    if wanted(1):
        import_times(args.import_runs)
        if args.quick:
            print("\n   As Lambda runs them: skipped with --quick (it builds the layer and a Python 3.12 runtime)")
        else:
            packaged_import_times(args.import_runs)
    if wanted(2):
        with own_environment():
            stream_throughput(args.stream_batches)
    if wanted(3):
        with own_environment():
            llm_batch(args.llm_latency, runs=args.llm_runs)
    if wanted(4):
        with own_environment():
            request_units(args.unit_emails)
    if wanted(5):
        for clients in args.clients:
            local_end_to_end(clients, args.put_items)
    if wanted(6):
        rescore_sweep(args.rescore_clients)
    if wanted(7):
        with own_environment():
            order_import(args.import_orders, args.import_clients)
    if wanted(8):
        from benchmarks.churn_model import churn_model

        churn_model(quick=args.quick)
    if wanted(9):
        from benchmarks.recommendations import recommendations

        recommendations(quick=args.quick)


if __name__ == "__main__":
    main()
