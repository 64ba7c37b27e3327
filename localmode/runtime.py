"""A local Lambda runtime: each function runs in its own worker process, as in its own execution environment.

The worker imports the function's handler module from its folder (as Lambda does from /var/task) with the
function's own environment, then serves invocations one at a time. An invocation that overruns the function's
timeout is killed and the worker restarted, as Lambda does. The worker also reports what the invocation did
through the AWS SDK (events published, items stored, messages dead-lettered), so the local mode can show it.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class WorkerSpec:
    label: str  # the function's folder name
    function_name: str
    code_dir: str
    handler: str  # "module.function", as in Lambda's handler setting
    environment: dict[str, str]
    timeout: int
    memory: int
    log_path: str
    region: str
    record_calls: bool = False  # every AWS call's essentials, for the IAM audit


@dataclass
class Invocation:
    result: Any = None
    error: dict[str, Any] | None = None
    activity: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


class FunctionInitError(RuntimeError):
    pass


class LambdaContext:
    """The context object Lambda passes to a handler."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{spec.region}:123456789012:function:{spec.function_name}"
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _attribute(entry: dict[str, Any], name: str) -> str | None:
    value = entry.get("MessageAttributes", {}).get(name, {})
    return str(value["StringValue"]) if "StringValue" in value else None


def install_activity_hooks(sink: list[dict[str, Any]], *, record_calls: bool = False) -> None:
    """Record successful publishes, item writes and queue sends made through boto3's default session; with
    record_calls, every call's service, operation and the parameters that name its resources (the IAM audit's)."""
    import boto3

    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    events = boto3.DEFAULT_SESSION.events
    if record_calls:  # every client's calls, whatever session made it (powertools' parameters make their own)
        from botocore.client import BaseClient

        from localmode.iam_audit import essentials

        make_api_call = BaseClient._make_api_call  # type: ignore[attr-defined]

        def recorded(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            sink.append({"kind": "aws_call", "service": client.meta.service_model.service_name,
                         "operation": operation_name, "params": essentials(api_params)})  # fmt: skip
            return make_api_call(client, operation_name, api_params)

        BaseClient._make_api_call = recorded  # type: ignore[attr-defined]

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["local_params"] = params

    def observe(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("local_params", {})
        if http_response.status_code >= 300:
            return
        if model.name == "PublishBatch":
            sink.append({"kind": "sns_call"})
            accepted = {entry["Id"] for entry in parsed.get("Successful", [])}
            for entry in params.get("PublishBatchRequestEntries", []):
                if entry["Id"] in accepted:
                    event_type, band = _attribute(entry, "eventType"), _attribute(entry, "band")
                    sink.append({"kind": "published", "eventType": event_type, "band": band})
        elif model.name == "PutItem":
            item = params.get("Item", {})
            sink.append(
                {
                    "kind": "put_item",
                    "table": params.get("TableName"),
                    "userId": item.get("userId", {}).get("S"),
                    "writer": item.get("writer", {}).get("S"),
                }
            )
        elif model.name == "SendEmail":
            sink.append({"kind": "email_sent", "to": params.get("Destination", {}).get("ToAddresses", [])})
        elif model.name == "SendMessage":
            sink.append(
                {
                    "kind": "sent_message",
                    "queue": params.get("QueueUrl"),
                    "reason": _attribute(params, "reason"),
                    "source": _attribute(params, "source"),
                }
            )

    for operation in ("sns.PublishBatch", "dynamodb.PutItem", "sqs.SendMessage", "sesv2.SendEmail"):
        events.register(f"before-parameter-build.{operation}", remember)
        events.register(f"after-call.{operation}", observe)


def _worker(conn: Connection, spec: WorkerSpec) -> None:  # pragma: no cover - runs in the worker process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the local mode's to handle: it lets invocations finish
    log = open(spec.log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(spec.environment)
    sys.path[:0] = [spec.code_dir, str(REPO_ROOT / "libs")]
    module_name, _, function_name = spec.handler.rpartition(".")
    activity: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        install_activity_hooks(activity, record_calls=spec.record_calls)
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as exc:
        traceback.print_exc()
        conn.send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    conn.send({"ready": True, "initMs": (time.perf_counter() - started) * 1000, "activity": list(activity)})
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        activity.clear()
        try:
            result = handler(request, LambdaContext(spec))
            conn.send({"result": result, "activity": list(activity)})
        except Exception as exc:
            traceback.print_exc()
            conn.send(
                {
                    "error": {
                        "errorType": type(exc).__name__,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_exception(exc),
                    },
                    "activity": list(activity),
                }
            )


class LocalFunction:
    """A function's execution environment: one worker process, one invocation at a time."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None
        self.init_ms = 0.0
        self.aws_calls: list[dict[str, Any]] = []  # with spec.record_calls: every call, cold starts' included

    @property
    def name(self) -> str:
        return self.spec.function_name

    @property
    def label(self) -> str:
        return self.spec.label

    def start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker, args=(child, self.spec), daemon=True, name=self.name)
        process.start()
        child.close()
        if not parent.poll(60):
            process.kill()
            raise FunctionInitError(f"{self.name}: no answer from the worker within 60 s")
        try:
            hello = parent.recv()
        except EOFError:
            hello = {"ready": False, "error": "the worker exited during init"}
        if not hello.get("ready"):
            process.join(5)
            raise FunctionInitError(f"{self.name} failed to start: {hello.get('error')} (see {self.spec.log_path})")
        self._process, self._conn, self.init_ms = process, parent, float(hello["initMs"])
        self._keep_calls(hello.get("activity", []))

    def _keep_calls(self, activity: list[dict[str, Any]]) -> None:
        self.aws_calls += [entry for entry in activity if entry.get("kind") == "aws_call"]

    def invoke(self, event: dict[str, Any]) -> Invocation:
        with self._lock:
            started = time.perf_counter()
            if self._conn is None:
                self.start()
            assert self._conn is not None
            try:
                self._conn.send(event)
                if self._conn.poll(self.spec.timeout):
                    reply = self._conn.recv()
                else:
                    reply = {
                        "error": {
                            "errorType": "Sandbox.Timedout",
                            "errorMessage": f"Task timed out after {self.spec.timeout} seconds",
                        }
                    }
                    self._process.kill()  # at once, as Lambda does: no side effect after the timeout
                    self._restart()
            except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
                reply = {"error": {"errorType": "Runtime.ExitError", "errorMessage": f"worker died: {exc}"}}
                self._restart()
            self._keep_calls(reply.get("activity", []))
            return Invocation(
                result=reply.get("result"),
                error=reply.get("error"),
                activity=reply.get("activity", []),
                duration_ms=(time.perf_counter() - started) * 1000,
            )

    def _restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(3)
            if self._process.is_alive():
                self._process.kill()
            self._process = None
