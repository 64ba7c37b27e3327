"""The local functions' log lines, also in the emulator's CloudWatch Logs, as Lambda puts them there in AWS.

Each function's worker writes its stdout and stderr to .local/logs/<function>.log (they stay). A shipper follows
those files and sends every complete line, as one log event, to the log group AWS would have (`/aws/lambda/<function
name>`), in a stream named as Lambda names them, so the runbook's `aws logs filter-log-events` and `make logs` work
against the local mode as they do in AWS.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

RETENTION_DAYS = 30  # terraform's log_retention_days by default
MAX_BATCH_EVENTS = 10_000  # PutLogEvents: at most 10,000 events...
MAX_BATCH_BYTES = 1_048_576  # ...and 1 MiB, counting 26 bytes an event
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD  # a longer line is cut, as Lambda's logs cut it


def log_group_name(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


@dataclass
class _Followed:
    path: Path
    group: str
    offset: int = 0
    partial: bytes = b""  # a line not yet ended


class LogShipper(threading.Thread):
    """Follows the functions' log files and puts their lines into the emulator's CloudWatch Logs every interval."""

    def __init__(self, logs: Any, files: dict[str, Path], *, interval_s: float = 1.0, write: Any = print) -> None:
        """logs: a CloudWatch Logs client; files: each function's name (as AWS names it) and its log file."""
        super().__init__(name="log-shipper", daemon=True)
        self.logs = logs
        self.followed = [_Followed(path, log_group_name(name)) for name, path in files.items()]
        self.interval_s = interval_s
        self.write = write
        self.stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.shipped = 0
        self._stopping = threading.Event()
        self._failing = False

    def prepare(self) -> None:
        """The log groups (retention as Terraform sets it) and this run's stream in each: made before any line."""
        for followed in self.followed:
            self._create("create_log_group", logGroupName=followed.group)
            self._create("put_retention_policy", logGroupName=followed.group, retentionInDays=RETENTION_DAYS)
            self._create("create_log_stream", logGroupName=followed.group, logStreamName=self.stream)

    def _create(self, call: str, **request: Any) -> None:
        try:
            getattr(self.logs, call)(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise

    def run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.ship()
        self.ship()  # what the functions wrote before they stopped

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)

    def ship(self) -> int:
        """Send each file's new complete lines; return how many went. A failed call is tried again next time."""
        sent = 0
        for followed in self.followed:
            lines, read_to = self._new_lines(followed)
            if not lines:
                continue
            try:
                self._put(followed.group, lines)
            except (ClientError, BotoCoreError) as error:
                if not self._failing:
                    self.write(f"log shipping to CloudWatch Logs paused: {error}")
                self._failing = True
                return sent
            followed.offset, followed.partial = read_to
            self._failing = False
            sent += len(lines)
        self.shipped += sent
        return sent

    def _new_lines(self, followed: _Followed) -> tuple[list[str], tuple[int, bytes]]:
        try:
            with followed.path.open("rb") as log:
                log.seek(followed.offset)
                data = followed.partial + log.read()
                end = log.tell()
        except FileNotFoundError:
            return [], (followed.offset, followed.partial)
        *complete, rest = data.split(b"\n")
        lines = [line.decode("utf-8", "replace")[:MAX_EVENT_BYTES] for line in complete if line.strip()]
        return lines, (end, rest)

    def _put(self, group: str, lines: list[str]) -> None:
        stamp = int(time.time() * 1000)
        batch: list[dict[str, Any]] = []
        size = 0
        for line in lines:
            length = len(line.encode()) + EVENT_OVERHEAD
            if batch and (len(batch) == MAX_BATCH_EVENTS or size + length > MAX_BATCH_BYTES):
                self.logs.put_log_events(logGroupName=group, logStreamName=self.stream, logEvents=batch)
                batch, size = [], 0
            batch.append({"timestamp": stamp, "message": line})
            size += length
        self.logs.put_log_events(logGroupName=group, logStreamName=self.stream, logEvents=batch)
