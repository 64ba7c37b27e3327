"""Recompute every client's order aggregates from the orders table (orderCount, totalSpent, averageOrderValue,
firstOrderDate, lastOrderDate, categoryCounts; preferredCategories where the shop did not set them).

    python scripts/backfill_aggregates.py                       # the running local mode (make backfill)
    python scripts/backfill_aggregates.py --profile prod --region eu-west-1 --users-table … --orders-table … \\
        --products-table …

For after an import into a table written some other way, a change to how aggregates are derived, or to check them:
a client whose aggregates already agree with their orders is not written (no event follows), and a client with no
orders in the table keeps what an upstream writer maintains. Each client is written on the condition that their
aggregates did not change meanwhile (an order arriving during the run is never lost). The users table is scanned a
page at a time and the page's position saved after each, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: the repository's root on the path, for stack and scripts
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.import_orders import order_service
from scripts.importing import connection_arguments, dynamodb_client, quiet_service_logs, stopped

PAGE_SIZE = 200


@dataclass
class Backfill:
    """Where the scan is, and what it has done so far."""

    start_key: dict[str, Any] | None = None
    examined: int = 0
    recomputed: int = 0
    without_orders: int = 0
    complete: bool = False

    def summary(self) -> str:
        return (f"{self.examined} clients examined: {self.recomputed} recomputed, "
                f"{self.examined - self.recomputed - self.without_orders} already right, "
                f"{self.without_orders} without orders in the table (left as they were)")  # fmt: skip


def main(argv: list[str] | None = None, *, dynamodb: Any = None) -> int:
    """dynamodb: a client to use instead of the one the arguments name (tests)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users-table", help="default: the local mode's")
    parser.add_argument("--orders-table", help="default: the local mode's")
    parser.add_argument("--products-table", help="default: the local mode's")
    parser.add_argument("--state", type=Path, help="the checkpoint (default: backfill-<users table>.json here)")
    connection_arguments(parser)
    args = parser.parse_args(argv)
    quiet_service_logs()
    dynamodb, local = (dynamodb, args.profile is None) if dynamodb is not None else dynamodb_client(args)
    from stack import resources

    if not local and None in (args.users_table, args.orders_table, args.products_table):
        parser.error("--users-table, --orders-table and --products-table are required for AWS")
    users_table = args.users_table or resources.USERS.name
    service = order_service(dynamodb, users=users_table, orders=args.orders_table or resources.ORDERS.name,
                            products=args.products_table or resources.PRODUCTS.name, currency="USD")  # fmt: skip
    state = args.state or Path(f"backfill-{users_table}.json")
    progress = Backfill() if args.restart else _load(state)
    if progress.complete:
        print(f"the backfill of {users_table} is done ({progress.summary()}); --restart runs it again", file=sys.stderr)
        return 0
    if progress.examined:
        print(f"resuming after {progress.examined} clients", file=sys.stderr)
    began = time.monotonic()
    if status := stopped(lambda: _run(dynamodb, users_table, service, progress, state, args), source=users_table):
        return status
    print(f"{progress.summary()} in {time.monotonic() - began:.1f} s")
    return 0


def _run(dynamodb: Any, table: str, service: Any, progress: Backfill, state: Path, args: argparse.Namespace) -> None:
    from tqdm import tqdm

    total = int(dynamodb.describe_table(TableName=table)["Table"].get("ItemCount", 0)) or None
    with (tqdm(total=total, initial=progress.examined, unit=" clients", disable=args.no_progress,
               file=sys.stderr) as bar, ThreadPoolExecutor(args.workers) as pool):  # fmt: skip
        while True:
            request: dict[str, Any] = {"TableName": table, "ProjectionExpression": "userId", "Limit": PAGE_SIZE}
            if progress.start_key:
                request["ExclusiveStartKey"] = progress.start_key
            page = dynamodb.scan(**request)
            user_ids = [item["userId"]["S"] for item in page.get("Items", [])]
            outcomes = list(pool.map(service.recompute, user_ids))
            progress.examined += len(user_ids)
            progress.recomputed += sum(1 for outcome in outcomes if outcome)
            progress.without_orders += sum(1 for outcome in outcomes if outcome is None)
            progress.start_key = page.get("LastEvaluatedKey")
            progress.complete = progress.start_key is None
            _save(state, progress)
            bar.update(len(user_ids))
            if progress.complete:
                return


def _load(state: Path) -> Backfill:
    try:
        return Backfill(**json.loads(state.read_text()))
    except (OSError, ValueError, TypeError):
        return Backfill()


def _save(state: Path, progress: Backfill) -> None:
    temporary = state.with_name(state.name + ".tmp")
    temporary.write_text(json.dumps(asdict(progress)))
    os.replace(temporary, state)


if __name__ == "__main__":
    sys.exit(main())
