"""python -m localmode run [--terraform] | demo | rescore

run      start the emulator, create the resources, run the functions behind local event sources and serve the
         HTTP API until Ctrl-C or SIGTERM. --terraform: run what `make deploy-local` made instead, in its emulator,
         each function and event source as the Terraform configured it.
demo     start it all, seed clients, wait until the pipeline has drained, print a summary and stop.
rescore  (with `run` going) sweep now, as the daily schedule does; --now moves every function's clock first.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from engagement.domain.churn import Variant
from localmode.app import LOCAL_CREDENTIALS, LocalMode, Settings
from localmode.deploy import ENVIRONMENT as DEPLOYED_ENVIRONMENT
from localmode.emulator import EmulatorError
from localmode.runtime import FunctionInitError
from stack import resources


def _stop_on_signals(mode: LocalMode) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        mode.stop_event.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def run(args: argparse.Namespace) -> int:
    prefix = f"{resources.PROJECT}-{DEPLOYED_ENVIRONMENT}" if args.terraform else None
    settings = Settings.from_env(aws_port=args.aws_port, app_port=args.app_port, verbose=args.verbose,
                                 terraform_prefix=prefix)  # fmt: skip
    mode = LocalMode(settings)
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

    from engagement.clock import ShiftedClock
    from scripts.seed_users import generate_shop, write_shop

    began = time.monotonic()
    settings = Settings.from_env(aws_port=args.aws_port, app_port=args.app_port, verbose=args.verbose)
    mode = LocalMode(settings, write=tqdm.write)  # keeps batch lines clear of the progress bar
    _stop_on_signals(mode)
    mode.start()
    assert mode.deployed is not None
    print(mode.banner().rsplit("\n\nFor the AWS CLI", 1)[0], flush=True)
    try:
        print(f"\nseeding {args.count} clients with their orders, and the catalog (seed {args.seed})…", flush=True)
        shop = generate_shop(args.count, seed=args.seed)
        clock = ShiftedClock(mode.clock_offset_file)
        sweep = sweep_of({name: mode.client(name) for name in ("dynamodb", "sns", "sqs")}, mode.deployed, clock)

        def build_co_purchases() -> None:  # as the daily sweep would have, so the first drafts rank by them
            assert sweep.co_purchases is not None
            print(f"co-purchase counts: {describe_build(sweep.co_purchases.rebuild_if_due(clock.now()))}", flush=True)

        write_shop(mode.client("dynamodb"), mode.deployed.tables, shop, before_clients=build_co_purchases)
        drained = mode.wait_until_drained(timeout=args.timeout)
        if drained:  # the day's sweep, as the schedule starts it: the churn model is fitted on the seeded histories
            swept = sweep.start()
            print(f"rescoring sweep started; churn model: {describe_model(swept.get('churnModel'))}", flush=True)
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


def _histories(orders_per_client: dict[str, int]) -> str:
    if not orders_per_client:
        return "no orders"
    counts = sorted(orders_per_client.values())
    return (f"{sum(counts)} orders of {len(counts)} clients ({counts[0]} to {counts[-1]} each, "
            f"median {counts[len(counts) // 2]}; GET /api/users/{{id}}/orders)")  # fmt: skip


def _cards(drafts_by_cards: dict[int, int], reasons: dict[str, int]) -> str:
    """How many products the drafts show, and why they were picked."""
    if not drafts_by_cards:
        return "no drafts"
    shown = ", ".join(f"{drafts} with {cards}" for cards, drafts in sorted(drafts_by_cards.items(), reverse=True))
    return f"{shown}; picked as {_listing(reasons)}" if reasons else shown


def _churn(summary: dict[str, Any]) -> str:
    model = summary.get("churn_model")
    if model is None:
        return "none fitted"
    if model["status"] != "fitted":
        return f"none: {model['reason']}"
    parameters = ", ".join(f"{name} {model[name]:.3g}" for name in ("r", "alpha", "a", "b"))
    return (
        f"{Variant(model['variant']).label} on {model['clients']} clients "
        f"({model['repeatBuyers']} with a repeat order; {parameters}, alpha in days); it judged "
        f"{summary['churn_judged']}, {summary['churn_overdue']} overdue against their own rhythm"
    )


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
        ("order histories", _histories(summary["orders_per_client"])),
        (
            "catalog",
            f"{sum(summary['products_per_category'].values())} products in "
            f"{len(summary['products_per_category'])} categories, {summary['products_in_stock']} in stock",
        ),
        ("churn model", _churn(summary)),
        *(
            ("  e.g." if index == 0 else "", f"{name} ({band}): {words}")
            for index, (name, band, words) in enumerate(summary.get("churn_examples", []))
        ),
        ("emails drafted", f"{sum(summary['drafts_by_writer'].values())} ({_listing(summary['drafts_by_writer'])})"),
        ("product cards", _cards(summary.get("drafts_by_cards", {}), summary.get("pick_reasons", {}))),
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


def rescore(args: argparse.Namespace) -> int:
    """Set the simulated time (if asked), then start a run as the daily schedule does (the coordinator: the churn
    model refitted when due, one task per segment queued) and wait for the segments."""
    import boto3

    from engagement.clock import ShiftedClock, parse_instant, read_offset
    from localmode.topology import deployed_in_emulator

    settings = Settings.of_running(aws_port=args.aws_port, app_port=args.app_port)
    offset_file = settings.state_dir / "clock-offset"
    if args.now:
        offset = parse_instant(args.now) - datetime.now(UTC)
        written = offset_file.with_suffix(".new")
        written.write_text(f"{offset.total_seconds():.3f}\n")
        written.replace(offset_file)  # all at once: a function never reads a half-written shift
    now = datetime.now(UTC) + read_offset(offset_file)
    clients = {name: boto3.client(name, endpoint_url=settings.endpoint_url, region_name=resources.REGION,
                                  aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
               for name in ("dynamodb", "sns", "sqs")}  # fmt: skip
    try:
        deployed = deployed_in_emulator(clients, resources.PREFIX, settings.endpoint_url)
    except Exception as exc:
        print(f"the local mode is not running on port {settings.aws_port} (start it with make local): {exc}",
              file=sys.stderr)  # fmt: skip
        return 2
    sweep = sweep_of(clients, deployed, ShiftedClock(offset_file))
    started = sweep.start()
    if not started["started"]:
        print(f"the last run is still going ({started['pendingTasks']} tasks queued); try again when it is done",
              file=sys.stderr)  # fmt: skip
        return 1
    print(
        f"rescoring as of {now.isoformat(timespec='seconds')} (run {started['runDate']}): "
        f"{started['segments']} segments queued; the local mode's console shows what each publishes",
        flush=True,
    )
    print(f"churn model: {describe_model(started['churnModel'])}", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if sweep.tasks.pending() == 0:
            print("rescore done", flush=True)
            return 0
        time.sleep(0.5)
    print(f"segments still queued after {args.timeout:.0f} s", file=sys.stderr)
    return 1


def sweep_of(clients: dict[str, Any], deployed: resources.Deployed, clock: Any) -> Any:
    """The rescore function's sweep, built as its cold start builds it, talking to the local mode's emulator."""
    from engagement import bootstrap
    from engagement.config import RescoreConfig

    config = RescoreConfig.from_env(resources.function_environment(resources.RESCORE, deployed))
    return bootstrap.rescore(config, clock=clock, clients=bootstrap.Clients(**clients)).sweep


def describe_build(build: Any) -> str:
    if build is None:
        return "not rebuilt: a build less than a day old is in use"
    read = f"the last year's {build.orders:,} orders of {build.clients:,} clients"
    return f"built from {read} ({build.products:,} products ranked)"


def describe_model(model: dict[str, Any] | None) -> str:
    if model is None:
        return "none yet"
    if model["status"] != "fitted":
        return f"none ({model['reason']})"
    return (
        f"{Variant(model['variant']).label} fitted on {model['clients']} clients "
        f"({model['repeatBuyers']} with a repeat order), version {model['version']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localmode", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--aws-port", type=int, help="emulator port (default LOCAL_AWS_PORT or 4566)")
    parser.add_argument("--app-port", type=int, help="HTTP API port (default LOCAL_APP_PORT or 8080)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every batch, even idle ones")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run until Ctrl-C")
    run_parser.add_argument(
        "--terraform",
        action="store_true",
        help="run what make deploy-local made in the running emulator, as Terraform configured it",
    )
    demo_parser = commands.add_parser("demo", help="seed, drain, summarise, stop")
    demo_parser.add_argument(
        "--count", type=int, default=400, help="clients to seed (default 400: enough repeat buyers for the churn model)"
    )
    demo_parser.add_argument("--seed", type=int, default=7, help="random seed for reproducible clients")
    demo_parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the pipeline")
    rescore_parser = commands.add_parser("rescore", help="run the rescoring sweep in the running local mode now")
    rescore_parser.add_argument("--now", help="simulate this time first (ISO 8601, e.g. 2027-06-01T00:00:00Z)")
    rescore_parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the segments")
    args = parser.parse_args(argv)
    if args.command == "rescore":
        return rescore(args)
    try:
        return run(args) if args.command == "run" else demo(args)
    except (EmulatorError, FunctionInitError) as exc:
        print(f"local mode could not start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
