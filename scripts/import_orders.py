"""Import orders from a CSV or JSON Lines file, as the API records them: idempotent by (client, order id), each
client's aggregates updated with their orders in one write.

    python scripts/import_orders.py orders.csv                  # into the running local mode
    python scripts/import_orders.py orders.jsonl --profile prod --region eu-west-1 --users-table … \\
        --orders-table … --products-table … --shop-currency EUR

CSV: a header, then one row per line item, the order's columns repeated on each of its rows (an order's rows
together, as stores export them); an order without line items is one row with productId empty:

    userId,orderId,orderedAt,amount,currency,productId,quantity,unitPrice
    c-1001,web-5001,2026-03-14T10:21:00Z,89.90,USD,top-0042,1,49.95
    c-1001,web-5001,2026-03-14T10:21:00Z,89.90,USD,acc-0107,1,39.95

currency may be empty (the shop's). JSON Lines: one order a line, {"userId", "orderId", "orderedAt", "amount",
"currency", "lineItems": [{"productId", "quantity", "unitPrice"}]}.

Each bad row is reported with its line and why; the rest is imported. Interrupted (Ctrl-C, a crash, throttling that
outlasts the retries), the same command resumes after the last chunk written (--restart starts over); orders
written twice count once. Orders whose line items do not add up to the amount, or name products the catalog does
not have, are imported and flagged.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: the repository's root on the path, for stack and scripts
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.importing import (
    Problem,
    Progress,
    Row,
    connection_arguments,
    dynamodb_client,
    file_format,
    quiet_service_logs,
    read_rows,
    run,
    stopped,
)

CSV_COLUMNS = ("userId", "orderId", "orderedAt", "amount")  # currency, productId, quantity, unitPrice: optional
# Rows read before a chunk is written: a client's orders in a chunk are one write (one stream change), so bigger
# chunks mean fewer writes; after an interruption, at most a chunk is read again (its orders count once).
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class ParsedOrder:
    user_id: str
    order: Any  # OrderInput
    line: int


def order_groups(rows: Iterator[Row], kind: str) -> Iterator[tuple[int, list[Row]]]:
    """(last line, rows) for each order: consecutive CSV rows of one (userId, orderId); a JSON line each."""
    group: list[Row] = []
    key: tuple[str, str] | None = None
    for row in rows:
        order_id = row.values.get("orderId", "")
        row_key = (row.values.get("userId", ""), order_id) if row.problem is None else None
        same_order = row_key is not None and row_key == key and bool(order_id)
        if kind == "csv" and group and same_order:
            group.append(row)
            continue
        if group:
            yield group[-1].line, group
        group, key = [row], row_key
    if group:
        yield group[-1].line, group


def parse(rows: list[Row], kind: str) -> ParsedOrder | Problem:
    """A group of rows as one order, or the problem with the line it is on."""
    from pydantic import ValidationError

    from engagement.domain.orders import OrderInput

    first = rows[0]
    if first.problem:
        return Problem(first.line, first.problem)
    values = dict(first.values)
    user_id = str(values.pop("userId", "") or "").strip()
    if not user_id:
        return Problem(first.line, "userId: missing")
    if not str(values.get("orderId") or "").strip():
        return Problem(first.line, "orderId: missing (a file's orders need their ids, so a resumed import counts "
                                   "each once and an order's line items stay together)")  # fmt: skip
    if kind == "csv":
        line_items = [
            {name: row.values.get(name) or None for name in ("productId", "quantity", "unitPrice")}
            for row in rows
            if row.values.get("productId")
        ]
        values = {name: values.get(name) or None for name in ("orderId", "orderedAt", "amount", "currency")}
        values["lineItems"] = line_items
    try:
        return ParsedOrder(user_id, OrderInput.model_validate(values), first.line)
    except ValidationError as exc:
        detail = exc.errors(include_url=False)[0]
        where = [str(part) for part in detail["loc"]]
        line = first.line
        if kind == "csv" and where[:1] == ["lineItems"] and len(where) > 2:
            with_items = [row for row in rows if row.values.get("productId")]
            line, where = with_items[int(where[1])].line, where[2:]
        message = str(detail["msg"]).removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        return Problem(line, f"{'.'.join(where) or 'row'}: {message}{more}")


class OrderWriter:
    def __init__(self, service: Any, kind: str, workers: int) -> None:
        self.service = service
        self.kind = kind
        self.workers = workers
        self.seen: dict[tuple[str, str], int] = {}  # (client, order id) -> the line it was first met on
        self.flagged = 0

    def __call__(
        self, chunk: list[list[Row]], advance: Callable[[int], None] = lambda rows: None
    ) -> tuple[Progress, list[Problem]]:
        """A chunk's orders, each client's in one write (their item read with the chunk's others, 100 a call);
        advance: told how many rows each client's write covered, as it finishes."""
        from botocore.exceptions import BotoCoreError

        from engagement.domain.orders import OrderSource
        from engagement.errors import Conflict, NotFound, TransientFailure
        from engagement.services.orders import Outcome

        counts, problems = Progress(), []
        by_client: dict[str, list[ParsedOrder]] = defaultdict(list)
        rows_of: dict[str, int] = defaultdict(int)
        for rows in chunk:
            parsed = parse(rows, self.kind)
            if isinstance(parsed, Problem):
                problems.append(parsed)
                continue
            key = (parsed.user_id, parsed.order.order_id or "")
            if parsed.order.order_id and key in self.seen and self.seen[key] != parsed.line:
                earlier = f"came before, at line {self.seen[key]}; an order's rows must be together"
                problems.append(Problem(parsed.line, f"orderId: {key[1]} of {key[0]} {earlier}"))
                continue
            self.seen[key] = parsed.line
            by_client[parsed.user_id].append(parsed)
            rows_of[parsed.user_id] += len(rows)

        current = self.service.users.get_items(list(by_client))

        def record(user_id: str) -> tuple[str, Any]:
            orders = by_client[user_id]
            try:
                if user_id not in current:
                    raise NotFound(user_id)
                return user_id, self.service.record(user_id, [o.order for o in orders], OrderSource.IMPORT,
                                                    current=current[user_id])  # fmt: skip
            except Exception as exc:
                return user_id, exc
            finally:
                advance(rows_of[user_id])

        with ThreadPoolExecutor(self.workers) as pool:
            outcomes = list(pool.map(record, list(by_client)))
        for user_id, outcome in outcomes:
            orders = by_client[user_id]
            if isinstance(outcome, NotFound | Conflict):
                reason = f"no client {user_id!r} (add the client first)" if isinstance(outcome, NotFound) else outcome
                problems += [Problem(order.line, f"userId: {reason}") for order in orders]
                continue
            if isinstance(outcome, TransientFailure | BotoCoreError | ConnectionError):
                raise outcome  # not the rows' fault (throttling beyond the retries, no connection): stop, resume later
            if isinstance(outcome, Exception):
                problems += [Problem(order.line, f"userId: {user_id}'s orders could not be written: {outcome}")
                             for order in orders]  # fmt: skip
                continue
            for order, result in zip(orders, outcome.results, strict=True):
                if result.outcome is Outcome.RECORDED:
                    counts.imported += 1
                    self.flagged += bool(result.order and result.order.flags)
                elif result.outcome is Outcome.DUPLICATE:
                    counts.duplicates += 1
                else:
                    problems.append(Problem(order.line, f"{result.field}: {result.reason}"))
        counts.refused = len(problems)  # one a refused order (or unreadable row)
        return counts, problems


def main(argv: list[str] | None = None, *, dynamodb: Any = None) -> int:
    """dynamodb: a client to use instead of the one the arguments name (tests)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="a .csv or .jsonl file")
    parser.add_argument("--format", choices=("csv", "jsonl"), help="when the file's name does not say")
    parser.add_argument("--users-table", help="default: the local mode's")
    parser.add_argument("--orders-table", help="default: the local mode's")
    parser.add_argument("--products-table", help="default: the local mode's")
    parser.add_argument("--shop-currency", help="ISO 4217 (default: the local mode's, USD)")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help=f"rows a chunk (default {CHUNK_ROWS:,})")
    connection_arguments(parser)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"{args.file}: no such file")
    kind = file_format(args.file, args.format)

    quiet_service_logs()
    dynamodb, local = (dynamodb, args.profile is None) if dynamodb is not None else dynamodb_client(args)
    from stack import resources

    if not local and None in (args.users_table, args.orders_table, args.products_table, args.shop_currency):
        parser.error("--users-table, --orders-table, --products-table and --shop-currency are required for AWS")
    service = order_service(
        dynamodb,
        users=args.users_table or resources.USERS.name,
        orders=args.orders_table or resources.ORDERS.name,
        products=args.products_table or resources.PRODUCTS.name,
        currency=args.shop_currency or resources.SHOP_CURRENCY,
    )
    writer = OrderWriter(service, kind, args.workers)
    began = time.monotonic()
    done: list[Progress] = []

    def work() -> None:
        rows = read_rows(args.file, kind, required=CSV_COLUMNS if kind == "csv" else ())
        done.append(run(args.file, order_groups(rows, kind), writer, noun="orders", restart=args.restart,
                        show_progress=not args.no_progress, chunk_rows=args.chunk_rows))  # fmt: skip

    if (status := stopped(work, source=str(args.file))) is not None:
        return status
    progress, elapsed = done[0], time.monotonic() - began
    flagged = f", {writer.flagged} flagged (see each order's flags)" if writer.flagged else ""
    print(f"{progress.summary('orders')}{flagged} in {elapsed:.1f} s")
    return 0 if not progress.refused else 3


def order_service(dynamodb: Any, *, users: str, orders: str, products: str, currency: str) -> Any:
    from engagement.adapters.store.orders import OrderRepository
    from engagement.adapters.store.products import ProductRepository
    from engagement.adapters.store.users import UserRepository
    from engagement.clock import clock_from_environment
    from engagement.services.orders import OrderService

    return OrderService(
        users=UserRepository(users, dynamodb),
        orders=OrderRepository(orders, dynamodb),
        products=CachedCategories(ProductRepository(products, dynamodb)),
        clock=clock_from_environment(),
        shop_currency=currency,
    )


class CachedCategories:
    """The catalog's categories, read once per product for the whole import (not once per order)."""

    def __init__(self, products: Any) -> None:
        self._products = products
        self._known: dict[str, str | None] = {}

    def categories_of(self, product_ids: Iterable[str]) -> dict[str, str]:
        product_ids = list(dict.fromkeys(product_ids))
        wanted = [pid for pid in product_ids if pid not in self._known]
        if wanted:
            found = self._products.categories_of(wanted)
            self._known.update({pid: found.get(pid) for pid in wanted})
        return {pid: category for pid in product_ids if (category := self._known.get(pid))}


if __name__ == "__main__":
    sys.exit(main())
