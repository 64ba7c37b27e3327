"""python -m localmode run | demo

run   start the emulator, create the resources, run the functions behind local event sources and serve the
      HTTP API until Ctrl-C or SIGTERM.
demo  start it all, seed clients, wait until the pipeline has drained, print a summary and stop.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType
from typing import Any

from localmode.app import LocalMode, Settings
from localmode.emulator import EmulatorError
from localmode.runtime import FunctionInitError


def _stop_on_signals(mode: LocalMode) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        mode.stop_event.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def run(args: argparse.Namespace) -> int:
    mode = LocalMode(Settings.from_env(aws_port=args.aws_port, app_port=args.app_port, verbose=args.verbose))
    _stop_on_signals(mode)
    mode.start()
    print(mode.banner(), flush=True)
    status = 0
    try:
        while not mode.stop_event.wait(1):
            problem = mode.failure()
            if problem:
                print(f"stopping: {problem}", file=sys.stderr)
                status = 1
                break
    finally:
        print("stopping…", flush=True)
        mode.stop()
        print("stopped.", flush=True)
    return status


def demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from scripts.seed_users import generate_clients, write_clients

    began = time.monotonic()
    settings = Settings.from_env(aws_port=args.aws_port, app_port=args.app_port, verbose=args.verbose)
    mode = LocalMode(settings, write=tqdm.write)  # keeps batch lines clear of the progress bar
    _stop_on_signals(mode)
    mode.start()
    assert mode.deployed is not None
    print(mode.banner().rsplit("\n\nFor the AWS CLI", 1)[0], flush=True)
    try:
        print(f"\nseeding {args.count} clients (seed {args.seed})…", flush=True)
        clients = generate_clients(args.count, seed=args.seed)
        write_clients(mode.client("dynamodb"), mode.deployed.tables["users"], clients, progress=True)
        drained = mode.wait_until_drained(timeout=args.timeout)
        interrupted = mode.stop_event.is_set()
        summary = mode.summary()
    finally:
        mode.stop()
    elapsed = time.monotonic() - began
    print("\nDemo summary\n" + "\n".join(f"  {name:<19} {value}" for name, value in summary_rows(summary, elapsed)))
    if interrupted:
        print("interrupted before the pipeline had drained", file=sys.stderr)
        return 130
    if not drained:
        print(f"the pipeline did not drain within {args.timeout:.0f} s; see {mode.logs}", file=sys.stderr)
        return 1
    return 0


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"


def summary_rows(summary: dict[str, Any], elapsed: float) -> list[tuple[str, str]]:
    bands = summary["bands"]
    per_band = ", ".join(f"{band} {bands.get(band, 0)}" for band in ("critical", "at_risk", "moderate", "good"))
    if bands.get("unscored"):
        per_band += f", unscored {bands['unscored']}"
    rows = [
        ("clients per band", per_band),
        (
            "events published",
            f"{sum(summary['events'].values())} ({_listing(summary['events'])}; "
            f"{summary['sns_calls']} SNS PublishBatch calls)",
        ),
        ("emails drafted", f"{sum(summary['drafts_by_writer'].values())} ({_listing(summary['drafts_by_writer'])})"),
        (
            "at-risk, no draft",
            f"{len(summary['at_risk_without_draft'])}    drafts for others: {len(summary['drafts_for_others'])}",
        ),
        ("DLQ depth", _listing(summary["dlq_depth"])),
    ]
    if summary["function_errors"]:
        rows.append(("function errors", f"{summary['function_errors']} (see the logs)"))
    rows.append(("elapsed", f"{elapsed:.1f} s"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localmode", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--aws-port", type=int, help="emulator port (default LOCAL_AWS_PORT or 4566)")
    parser.add_argument("--app-port", type=int, help="HTTP API port (default LOCAL_APP_PORT or 8080)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every batch, even idle ones")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run until Ctrl-C")
    demo_parser = commands.add_parser("demo", help="seed, drain, summarise, stop")
    demo_parser.add_argument("--count", type=int, default=20, help="clients to seed (default 20)")
    demo_parser.add_argument("--seed", type=int, default=7, help="random seed for reproducible clients")
    demo_parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the pipeline")
    args = parser.parse_args(argv)
    try:
        return run(args) if args.command == "run" else demo(args)
    except (EmulatorError, FunctionInitError) as exc:
        print(f"local mode could not start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
