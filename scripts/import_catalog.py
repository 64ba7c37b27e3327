"""Import the shop's catalog from a CSV or JSON Lines file, or from Shopify's product CSV export.

    python scripts/import_catalog.py products.csv               # into the running local mode
    python scripts/import_catalog.py products_export.csv --format shopify --domains cdn.shopify.com
    python scripts/import_catalog.py products.jsonl --profile prod --region eu-west-1 --products-table … \\
        --shop-url https://shop.example.com/ --shop-currency EUR

CSV (and JSON Lines, the same names as keys), a product a row:

    productId,title,url,imageUrl,category,price,currency,inStock,updatedAt
    top-0042,Relaxed linen shirt,https://shop.example.com/products/relaxed-linen-shirt,…,tops,49.95,USD,true,

imageUrl, currency (the shop's), inStock (true) and updatedAt (now) may be empty. Shopify's export (its header
starts with Handle): a product's rows together, the first naming it, the others adding variants and images; the
product's price is its lowest variant's, it is in stock when it is active and a variant can be sold, its category is
its Type, and its id is the ID column when the export has one, else its handle.

A product's page must be on the shop's domains (--shop-url's, plus --domains), its picture there or on
--image-domains (cdn.shopify.com unless you say otherwise; the API's IMAGE_DOMAINS says the same). A row older
(updatedAt) than the catalog's version of its product changes nothing. Bad rows are reported with their line;
interrupted, the same command resumes.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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

CSV_COLUMNS = ("productId", "title", "url", "category", "price")
LOCAL_SHOP_URL = "https://shop.example.com/"  # the local mode's (stack.resources)


def product_groups(rows: Iterator[Row], kind: str) -> Iterator[tuple[int, list[Row]]]:
    """(last line, rows) for each product: a row each, or in Shopify's export the consecutive rows of one handle."""
    group: list[Row] = []
    for row in rows:
        handle = row.values.get("Handle") if row.problem is None else None
        if kind == "shopify" and group and handle and handle == group[0].values.get("Handle"):
            group.append(row)
            continue
        if group:
            yield group[-1].line, group
        group = [row]
    if group:
        yield group[-1].line, group


def parse(rows: list[Row], kind: str, shop_url: str) -> tuple[str, Any, int] | Problem:
    """A group of rows as (product id, ProductInput, line), or the problem with its line."""
    from pydantic import ValidationError

    from engagement.domain.catalog import ProductInput
    from engagement.domain.orders import PRODUCT_ID_PATTERN
    from engagement.domain.shopify import CsvProduct

    first = rows[0]
    if first.problem:
        return Problem(first.line, first.problem)
    try:
        if kind == "shopify":
            exported = CsvProduct(first.values.get("Handle", ""), first.line, [row.values for row in rows])
            product_id, product = exported.product(shop_url)
        else:
            values = {name: value for name, value in first.values.items() if value not in ("", None)}
            product_id = str(values.pop("productId", ""))
            if kind == "csv" and "inStock" in values:
                values["inStock"] = str(values["inStock"]).strip().lower()
            product = ProductInput.model_validate(values)
    except ValidationError as exc:
        detail = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in detail["loc"]) or "row"
        return Problem(first.line, f"{field}: {str(detail['msg']).removeprefix('Value error, ')}")
    except ValueError as exc:
        return Problem(first.line, str(exc))
    if not re.match(PRODUCT_ID_PATTERN, product_id):
        name = "Handle" if kind == "shopify" else "productId"
        return Problem(first.line, f"{name}: {product_id!r} is not an id (letters, digits, . _ : / -; 1 to 128)")
    return product_id, product, first.line


class CatalogWriter:
    def __init__(self, service: Any, kind: str, shop_url: str, workers: int) -> None:
        self.service = service
        self.kind = kind
        self.shop_url = shop_url
        self.workers = workers

    def __call__(
        self, chunk: list[list[Row]], advance: Callable[[int], None] = lambda rows: None
    ) -> tuple[Progress, list[Problem]]:
        from engagement.domain.catalog import ProductRefused

        counts, problems = Progress(), []
        parsed: list[tuple[str, Any, int]] = []
        for rows in chunk:
            result = parse(rows, self.kind, self.shop_url)
            if isinstance(result, Problem):
                problems.append(result)
            else:
                parsed.append(result)

        def put(item: tuple[str, Any, int]) -> bool | Problem:
            product_id, product, line = item
            try:
                return bool(self.service.put(product_id, product).stored)
            except ProductRefused as refused:
                return Problem(line, f"{refused.field}: {refused.message}")
            finally:
                advance(1)

        with ThreadPoolExecutor(self.workers) as pool:
            for outcome in pool.map(put, parsed):
                if isinstance(outcome, Problem):
                    problems.append(outcome)
                elif outcome:
                    counts.imported += 1
                else:
                    counts.unchanged += 1
        counts.refused = len(problems)
        return counts, problems


def main(argv: list[str] | None = None, *, dynamodb: Any = None) -> int:
    """dynamodb: a client to use instead of the one the arguments name (tests)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="a .csv or .jsonl file, or Shopify's products_export.csv")
    parser.add_argument("--format", choices=("csv", "jsonl", "shopify"), help="default: by the name and header")
    parser.add_argument("--products-table", help="default: the local mode's")
    parser.add_argument("--shop-url", help=f"the shop's address (default: the local mode's, {LOCAL_SHOP_URL})")
    parser.add_argument("--domains", default="", help="more domains product pages may be on, comma-separated")
    parser.add_argument("--image-domains", default="cdn.shopify.com", help="hosts pictures may be on besides those")
    parser.add_argument("--shop-currency", help="ISO 4217 (default: the local mode's, USD)")
    connection_arguments(parser)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"{args.file}: no such file")
    kind = args.format or file_format(args.file, None)
    if kind == "csv" and _header(args.file).startswith("Handle,"):
        kind = "shopify"
    if kind == "shopify" and "ID" not in _header(args.file).strip().split(","):
        print("warning: this export has no ID column, so products are keyed by their handle; Shopify's webhooks name "
              "products (and orders their line items) by id, which will then not match (flagged unknown_products). "
              "Export with ids, or let the products/create and products/update webhooks fill the catalog.",
              file=sys.stderr)  # fmt: skip

    quiet_service_logs()
    dynamodb, local = (dynamodb, args.profile is None) if dynamodb is not None else dynamodb_client(args)
    from stack import resources

    if not local and None in (args.products_table, args.shop_url, args.shop_currency):
        parser.error("--products-table, --shop-url and --shop-currency are required for AWS")
    shop_url = args.shop_url or LOCAL_SHOP_URL
    domains = [urlsplit(shop_url).hostname or "", *(d.strip() for d in args.domains.split(",") if d.strip())]
    images = [d.strip() for d in args.image_domains.split(",") if d.strip()]
    service = catalog_service(dynamodb, args.products_table or resources.PRODUCTS.name, domains, images,
                              args.shop_currency or resources.SHOP_CURRENCY)  # fmt: skip
    began = time.monotonic()
    done: list[Progress] = []

    def work() -> None:
        required = {"csv": CSV_COLUMNS, "shopify": ("Handle", "Title", "Variant Price")}.get(kind, ())
        rows = read_rows(args.file, "jsonl" if kind == "jsonl" else "csv", required=required)
        done.append(run(args.file, product_groups(rows, kind), CatalogWriter(service, kind, shop_url, args.workers),
                        noun="products", restart=args.restart, show_progress=not args.no_progress))  # fmt: skip

    if (status := stopped(work, source=str(args.file))) is not None:
        return status
    progress = done[0]
    print(f"{progress.summary('products')} in {time.monotonic() - began:.1f} s")
    return 0 if not progress.refused else 3


def _header(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        return handle.readline()


def catalog_service(dynamodb: Any, table: str, domains: list[str], images: list[str], currency: str) -> Any:
    from engagement.adapters.store.products import ProductRepository
    from engagement.clock import clock_from_environment
    from engagement.services.catalog import CatalogService

    return CatalogService(products=ProductRepository(table, dynamodb), clock=clock_from_environment(),
                          domains=domains, image_domains=images, shop_currency=currency)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
