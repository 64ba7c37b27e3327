"""What the local runtime runs: each function, and what invokes it (a stream, queues, schedules).

Two sources give the same shape:
- `from_stack`: the hand-written stack (stack/resources.py, with its declared local overrides), which `make local`
  creates in seconds;
- `from_emulator`: a deployment the Terraform made in the emulator (`make deploy-local`), read back as Lambda and
  EventBridge Scheduler would run it: each function's handler, environment, timeout and memory, each event source
  mapping's batch size, starting position, retries, bisection, record age, filter and on-failure destination and
  maximum concurrency, and each schedule's expression, target and input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stack import resources


@dataclass(frozen=True)
class FunctionSpec:
    label: str  # the function's folder under functions/
    name: str  # its deployed name
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    layers: tuple[str, ...] = ()
    role: str = ""  # the execution role's ARN (a Terraform-made function's)
    log_group: str = ""
    arn: str = ""
    tracing: str = "PassThrough"  # Active: Lambda sends traces with the function's role


@dataclass(frozen=True)
class StreamSource:
    function: str  # a FunctionSpec's label
    stream_arn: str
    batch_size: int
    starting_position: str
    maximum_retry_attempts: int
    bisect_on_error: bool
    maximum_record_age: int
    on_failure_queue_url: str
    filter_patterns: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class QueueSource:
    function: str
    queue: str  # the queue's logical name (its name less the prefix)
    queue_url: str
    queue_arn: str
    batch_size: int
    workers: int  # the mapping's maximum concurrency: pollers, one invocation at a time each


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    interval_seconds: float
    payload: dict[str, Any]
    expression: str = ""


@dataclass(frozen=True)
class Topology:
    functions: tuple[FunctionSpec, ...]
    streams: tuple[StreamSource, ...] = ()
    queues: tuple[QueueSource, ...] = ()
    schedules: tuple[ScheduleSource, ...] = ()
    deployed: resources.Deployed = field(default_factory=lambda: resources.Deployed(endpoint_url=""))

    def function(self, label: str) -> FunctionSpec:
        return next(spec for spec in self.functions if spec.label == label)


# ---- the hand-written stack -------------------------------------------------------------------------------------


def from_stack(deployed: resources.Deployed) -> Topology:
    functions = tuple(
        FunctionSpec(label=f.logical_name, name=f.name, handler="handler.lambda_handler",
                     environment=resources.function_environment(f, deployed), timeout=f.timeout, memory=f.memory)
        for f in resources.FUNCTIONS
    )  # fmt: skip
    stream = resources.USERS_STREAM_SOURCE
    streams = (
        StreamSource(
            function=stream.function,
            stream_arn=deployed.stream_arn,
            batch_size=stream.batch_size,
            starting_position=resources.local_value("users-stream.starting_position", stream.starting_position),
            maximum_retry_attempts=stream.maximum_retry_attempts,
            bisect_on_error=stream.bisect_batch_on_function_error,
            maximum_record_age=stream.maximum_record_age_seconds,
            on_failure_queue_url=deployed.queue_urls[stream.on_failure_queue],
            filter_patterns=stream.filter_patterns,
        ),
    )
    queues = tuple(
        QueueSource(
            function=source.function,
            queue=source.queue,
            queue_url=deployed.queue_urls[source.queue],
            queue_arn=deployed.queue_arns[source.queue],
            batch_size=source.batch_size,
            workers=resources.local_value(f"{source.queue}.maximum_concurrency", source.maximum_concurrency),
        )
        for source in resources.QUEUE_SOURCES
    )
    schedules = tuple(
        ScheduleSource(
            function=schedule.function,
            interval_seconds=60 * resources.local_value(f"{schedule.logical_name}.rate_minutes", schedule.rate_minutes),
            payload=schedule.payload,
        )
        for schedule in resources.SCHEDULES
    )
    return Topology(functions, streams, queues, schedules, deployed)


# ---- a Terraform-made deployment in the emulator ----------------------------------------------------------------

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def interval_of(expression: str) -> float:
    """Seconds between runs of a schedule: rate(...) exactly; a cron(...) expression as once a day (the project's
    are daily), which a local session will rarely reach."""
    if rate := _RATE.match(expression):
        return int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")]
    if expression.startswith("cron("):
        return 86400.0
    raise ValueError(f"schedule expression not supported locally: {expression!r}")


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def deployed_in_emulator(clients: dict[str, Any], prefix: str, endpoint_url: str) -> resources.Deployed:
    """The tables, stream, topics and queues named <prefix>-<logical name>, as the stack's Deployed holds them."""
    deployed = resources.Deployed(endpoint_url=endpoint_url)
    for table in clients["dynamodb"].list_tables()["TableNames"]:
        if table.startswith(f"{prefix}-"):
            deployed.tables[table.removeprefix(f"{prefix}-")] = table
    users = clients["dynamodb"].describe_table(TableName=deployed.tables["users"])["Table"]
    deployed.stream_arn = users.get("LatestStreamArn", "")
    for topic in clients["sns"].list_topics()["Topics"]:
        if _name(topic["TopicArn"]).startswith(f"{prefix}-"):
            deployed.topic_arns[_name(topic["TopicArn"]).removeprefix(f"{prefix}-")] = topic["TopicArn"]
    for url in clients["sqs"].list_queues(QueueNamePrefix=f"{prefix}-").get("QueueUrls", []):
        arn = clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        logical = _name(arn).removeprefix(f"{prefix}-")
        deployed.queue_urls[logical], deployed.queue_arns[logical] = url, arn
    return deployed


def from_emulator(clients: dict[str, Any], prefix: str, endpoint_url: str) -> Topology:
    """clients: lambda, scheduler, dynamodb, sns, sqs, each talking to the emulator."""
    functions_client = clients["lambda"]
    configurations = [
        configuration
        for page in functions_client.get_paginator("list_functions").paginate()
        for configuration in page["Functions"]
        if configuration["FunctionName"].startswith(f"{prefix}-")
    ]
    if not configurations:
        raise LookupError(f"no functions named {prefix}-* in the emulator: run make deploy-local first")
    deployed = deployed_in_emulator(clients, prefix, endpoint_url)
    label_of = {c["FunctionName"]: c["FunctionName"].removeprefix(f"{prefix}-") for c in configurations}
    functions = tuple(
        FunctionSpec(label=label_of[c["FunctionName"]], name=c["FunctionName"], handler=c["Handler"],
                     environment=dict(c.get("Environment", {}).get("Variables", {})), timeout=int(c["Timeout"]),
                     memory=int(c["MemorySize"]), layers=tuple(layer["Arn"] for layer in c.get("Layers", [])),
                     role=c["Role"], arn=c["FunctionArn"],
                     tracing=c.get("TracingConfig", {}).get("Mode", "PassThrough"),
                     log_group=c.get("LoggingConfig", {}).get("LogGroup", f"/aws/lambda/{c['FunctionName']}"))
        for c in configurations
    )  # fmt: skip
    queue_by_arn = {arn: logical for logical, arn in deployed.queue_arns.items()}
    url_by_arn = {deployed.queue_arns[logical]: url for logical, url in deployed.queue_urls.items()}
    streams, queues = [], []
    for name, label in label_of.items():
        for mapping in functions_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]:
            source = mapping["EventSourceArn"]
            if source in queue_by_arn:
                queues.append(QueueSource(
                    function=label, queue=queue_by_arn[source], queue_url=url_by_arn[source], queue_arn=source,
                    batch_size=int(mapping.get("BatchSize", 10)),
                    workers=int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 1)),
                ))  # fmt: skip
                continue
            on_failure = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
            patterns = tuple(json.loads(f["Pattern"]) for f in mapping.get("FilterCriteria", {}).get("Filters", []))
            streams.append(StreamSource(
                function=label, stream_arn=source, batch_size=int(mapping.get("BatchSize", 100)),
                starting_position=mapping.get("StartingPosition", "LATEST"),
                maximum_retry_attempts=int(mapping.get("MaximumRetryAttempts", -1)),
                bisect_on_error=bool(mapping.get("BisectBatchOnFunctionError", False)),
                maximum_record_age=int(mapping.get("MaximumRecordAgeInSeconds", -1)),
                on_failure_queue_url=url_by_arn.get(on_failure, ""), filter_patterns=patterns,
            ))  # fmt: skip
    schedules = []
    scheduler = clients["scheduler"]
    for listed in scheduler.list_schedules(NamePrefix=f"{prefix}-")["Schedules"]:
        schedule = scheduler.get_schedule(Name=listed["Name"], GroupName=listed.get("GroupName", "default"))
        target = schedule["Target"]
        if _name(target["Arn"]) not in label_of or schedule.get("State", "ENABLED") != "ENABLED":
            continue
        schedules.append(ScheduleSource(
            function=label_of[_name(target["Arn"])], interval_seconds=interval_of(schedule["ScheduleExpression"]),
            payload=json.loads(target.get("Input") or "{}"), expression=schedule["ScheduleExpression"],
        ))  # fmt: skip
    return Topology(functions, tuple(streams), tuple(queues), tuple(schedules), deployed)
