"""What the bulk imports share: reading CSV or JSON Lines row by row with line numbers, a checkpoint to resume from,
the progress bar, and where to write (the local mode, or AWS with a profile).

A bad row is reported with its line and the reason and the rest goes on; a file whose header lacks a required column
is refused before anything is written. The checkpoint holds the last line whose rows are all written, and the
file's fingerprint (size and the hash of its first megabyte), so a run resumes only the file it stopped in; rows
written again after a crash count once, since every write is idempotent.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT_SUFFIX = ".import-state.json"
_SURROGATE = re.compile(r"[\udc80-\udcff]")  # a byte that is not UTF-8, as errors="surrogateescape" keeps it


class MissingColumns(ValueError):
    pass


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts in the file (1 is the first line)
    values: dict[str, Any]
    problem: str | None = None  # the row cannot be read: why


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def file_format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise SystemExit(f"{path}: cannot tell the format from the name; say --format csv or --format jsonl")


def read_rows(path: Path, kind: str, *, required: Sequence[str] = ()) -> Iterator[Row]:
    """The file's rows in order. CSV: a header, then one record a row (quoted fields may span lines); a UTF-8
    byte-order mark is skipped. JSON Lines: one object a line; blank lines are skipped."""
    if kind == "jsonl":
        yield from _json_lines(path)
        return
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if any(_SURROGATE.search(name) for name in header):
            raise MissingColumns("line 1: the header is not UTF-8 text; save the file as UTF-8 (CSV UTF-8)")
        missing = [name for name in required if name not in header]
        if missing:
            raise MissingColumns(f"line 1: the header lacks {', '.join(missing)} (it has: {', '.join(header)})")
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if None in record:
                yield Row(line, {}, "more fields than the header names (a comma in an unquoted value?)")
            elif any(_SURROGATE.search(value or "") for value in record.values()):
                column = next(name for name, value in record.items() if _SURROGATE.search(value or ""))
                yield Row(line, {}, f"{column}: not UTF-8 text; save the file as UTF-8 (CSV UTF-8)")
            elif not any((value or "").strip() for value in record.values()):
                continue  # an empty line
            else:
                yield Row(line, {name: value.strip() for name, value in record.items() if value is not None})


def _json_lines(path: Path) -> Iterator[Row]:
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8-sig" if line == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield Row(line, {}, f"not UTF-8 text (byte {raw[exc.start]:#x} at column {exc.start + 1})")
                continue
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Row(line, {}, f"not JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(value, dict):
                yield Row(line, {}, "not a JSON object")
                continue
            yield Row(line, value)


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@dataclass
class Progress:
    """What a run has done so far (and, in the checkpoint, what runs before it did)."""

    line: int = 0  # every row up to here is written or reported
    imported: int = 0
    duplicates: int = 0
    unchanged: int = 0  # catalog: an older version than the stored one
    refused: int = 0
    complete: bool = False
    fingerprint: str = ""
    problems: list[str] = field(default_factory=list)  # the first ones, for the summary after a resume

    def summary(self, noun: str) -> str:
        parts = [f"{self.imported} {noun} imported"]
        if self.duplicates:
            parts.append(f"{self.duplicates} recorded before (counted once)")
        if self.unchanged:
            parts.append(f"{self.unchanged} older than the catalog's (kept the newer)")
        parts.append(f"{self.refused} rows refused")
        return ", ".join(parts)


class Checkpoint:
    def __init__(self, source: Path, path: Path | None = None) -> None:
        self.source = source
        self.path = path or source.with_name(source.name + CHECKPOINT_SUFFIX)
        self.fingerprint = fingerprint(source)

    def load(self) -> Progress | None:
        """The progress saved for this very file, or None (no checkpoint, or one for another file)."""
        try:
            saved = json.loads(self.path.read_text())
            progress = Progress(**saved)
        except (OSError, ValueError, TypeError):
            return None
        return progress if progress.fingerprint == self.fingerprint else None

    def save(self, progress: Progress) -> None:
        progress.fingerprint = self.fingerprint
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(progress)))
        os.replace(temporary, self.path)  # a crash mid-write never leaves half a checkpoint


def fingerprint(path: Path) -> str:
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
    return f"{path.stat().st_size}:{head}"


def connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: the local mode's, unless --profile)")
    parser.add_argument("--profile", help="AWS profile: import into AWS instead of the local mode")
    parser.add_argument("--region", help="AWS region (default: the profile's, or us-east-1 locally)")
    parser.add_argument("--workers", type=int, default=8, help="clients written at once (default 8)")
    parser.add_argument("--restart", action="store_true", help="ignore the checkpoint and start from the top")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def stopped(work: Callable[[], object], *, source: str) -> int | None:
    """Run the work; None when it finished, else the exit status, having said why and that the same command
    resumes: 2 for a file refused before anything was written, 130 for Ctrl-C, 1 for anything else (a dropped
    connection, throttling that outlasts the retries)."""
    try:
        work()
    except MissingColumns as missing:
        print(f"{source}: {missing}; nothing was imported", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"stopped: {exc}\nrun the same command again to resume where it stopped", file=sys.stderr)
        return 1
    return None


def quiet_service_logs() -> None:
    """The services' structured lines are for CloudWatch; a script's reader wants its summary and its problems."""
    from engagement.observability import logger

    logger.setLevel("WARNING")


def dynamodb_client(args: argparse.Namespace) -> tuple[Any, bool]:
    """A DynamoDB client for the local mode (running, found by its state file) or for AWS; and whether local."""
    import boto3
    from botocore.config import Config

    local = args.profile is None
    pool = Config(max_pool_connections=max(10, args.workers * 2), retries={"max_attempts": 8, "mode": "adaptive"})
    if local:
        from stack.local import running_endpoint

        session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator accepts any credentials
            region_name=args.region or "us-east-1",
        )
        return session.client("dynamodb", endpoint_url=args.endpoint_url or running_endpoint(), config=pool), True
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    return session.client("dynamodb", endpoint_url=args.endpoint_url, config=pool), False


def run(
    source: Path,
    groups: Iterator[tuple[int, list[Row]]],
    write: Callable[[list[list[Row]], Callable[[int], None]], tuple[Progress, list[Problem]]],
    *,
    noun: str,
    restart: bool,
    show_progress: bool,
    chunk_rows: int = 2000,
    checkpoint: Checkpoint | None = None,
) -> Progress:
    """Write the file's groups of rows a chunk at a time, saving a checkpoint after each; resume from the last one.
    groups: (last line, rows) for each unit written whole (an order and its line items, a product and its
    variants), in file order; write: a chunk's groups and a callback for the rows done so far in, the counts and
    the problems out."""
    from tqdm import tqdm

    checkpoint = checkpoint or Checkpoint(source)
    progress = None if restart else checkpoint.load()
    if progress is not None and progress.complete:
        print(f"{source} was imported already ({progress.summary(noun)}); --restart imports it again", file=sys.stderr)
        return progress
    if progress is not None:
        print(f"resuming {source} after line {progress.line} ({progress.summary(noun)} before)", file=sys.stderr)
    progress = progress or Progress()
    skip_to = progress.line
    lines = count_lines(source)
    bar = tqdm(total=lines, initial=skip_to, unit=" lines", disable=not show_progress, file=sys.stderr, smoothing=0.1)

    def flush(chunk: list[list[Row]], last_line: int) -> None:
        counts, problems = write(chunk, lambda rows: bar.update(min(rows, max(0, last_line - bar.n))))
        for problem in sorted(problems, key=lambda p: p.line):
            (tqdm.write if show_progress else print)(str(problem), file=sys.stderr)
            if len(progress.problems) < 100:
                progress.problems.append(str(problem))
        progress.imported += counts.imported
        progress.duplicates += counts.duplicates
        progress.unchanged += counts.unchanged
        progress.refused += counts.refused
        bar.update(last_line - bar.n)
        progress.line = last_line
        checkpoint.save(progress)

    chunk: list[list[Row]] = []
    rows_in_chunk, last_line = 0, skip_to
    try:
        for last, rows in groups:
            if last <= skip_to:
                continue
            chunk.append(rows)
            rows_in_chunk += len(rows)
            last_line = last
            if rows_in_chunk >= chunk_rows:
                flush(chunk, last_line)
                chunk, rows_in_chunk = [], 0
        if chunk:
            flush(chunk, last_line)
        bar.update(max(0, lines - progress.line))
        progress.complete = True
        checkpoint.save(progress)
    finally:
        bar.close()
    return progress
