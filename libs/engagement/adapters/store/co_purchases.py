"""The co-purchase counts and the month's best sellers, as the sweep last built them from the orders, in the models
table (engagement.services.co_purchases builds them; engagement.services.recommend reads them).

One build is a version (when it was built). Its header (partition `model` = "co-purchases", sort key `version`) holds
the best sellers per category and what the build read; one item per product (partition "co-purchases@<version>",
sort key the product id, in the table's `version` attribute) holds the products most often bought by the clients who
bought it, with their counts. The rows are written before the header, so a reader who finds a header finds its rows.
Both expire after KEPT_FOR: a sweep that stops building leaves the emails to the category and popularity rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import Field

from engagement.adapters import aws
from engagement.adapters.store.dynamo import from_item, to_item, translated_errors
from engagement.clock import format_instant
from engagement.domain.models import CamelModel, Instant
from engagement.errors import TransientFailure
from engagement.observability import logger

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

HEADER = "co-purchases"
KEPT_FOR = timedelta(days=35)
BATCH_GET_LIMIT, BATCH_WRITE_LIMIT = 100, 25
WRITE_RETRIES = 8


class CoPurchaseBuild(CamelModel):
    """One build's header."""

    version: str
    built_at: Instant
    orders: int = Field(ge=0)  # read
    clients: int = Field(ge=0)
    products: int = Field(ge=0)  # with a row
    popular: dict[str, dict[str, int]] = Field(default_factory=dict)  # category -> product -> orders this month
    complete: bool = True  # False: the scan ran out of time and the counts cover part of the orders

    def popularity(self) -> dict[str, int]:
        return {product: n for per_category in self.popular.values() for product, n in per_category.items()}


def _rows_partition(version: str) -> str:
    return f"{HEADER}@{version}"


class CoPurchaseRepository:
    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDBClient | None = None,
        *,
        max_age_s: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._cached: tuple[float, CoPurchaseBuild | None] | None = None

    def latest(self) -> CoPurchaseBuild | None:
        """The newest build's header, read at most once per max_age_s; None while there is none. A failed read
        keeps the one read before (none read yet: TransientFailure)."""
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < self.max_age_s:
            return self._cached[1]
        try:
            build = self.newest()
        except (TransientFailure, ClientError) as exc:
            if self._cached is None:
                raise TransientFailure(f"read the co-purchase counts: {exc}") from exc
            logger.warning("co-purchase counts not re-read; using those already read", extra={"error": str(exc)})
            build = self._cached[1]
        self._cached = (now, build)
        return build

    def newest(self) -> CoPurchaseBuild | None:
        with translated_errors("read the co-purchase counts"):
            response = self._dynamodb.query(
                TableName=self.table_name,
                KeyConditionExpression="#model = :model",
                ExpressionAttributeNames={"#model": "model"},
                ExpressionAttributeValues={":model": {"S": HEADER}},
                ScanIndexForward=False,
                Limit=1,
            )
        items = response.get("Items", [])
        return CoPurchaseBuild.model_validate(from_item(items[0])) if items else None

    def bought_with(self, version: str, product_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """product -> the products bought by its buyers, with how many of them, for the products that have a row."""
        wanted = list(dict.fromkeys(product_ids))
        found: dict[str, dict[str, int]] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys: list[dict[str, Any]] = [
                {"model": {"S": _rows_partition(version)}, "version": {"S": product}}
                for product in wanted[start : start + BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {self.table_name: {"Keys": keys}}
            while request:
                with translated_errors("read co-purchase counts"):
                    response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    row = from_item(item)
                    found[row["version"]] = {other: int(n) for other, n in row.get("with", {}).items()}
                request = response.get("UnprocessedKeys") or {}
        return found

    def save(self, build: CoPurchaseBuild, rows: Mapping[str, Mapping[str, int]]) -> None:
        """The rows (product -> bought with, counted), then the header that makes them the newest build."""
        expires = int((build.built_at + KEPT_FOR).timestamp())
        rows_of = _rows_partition(build.version)
        items = [
            {"PutRequest": {"Item": to_item({"model": rows_of, "version": p, "with": dict(n), "expiresAt": expires})}}
            for p, n in rows.items()
        ]
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            self._write(items[start : start + BATCH_WRITE_LIMIT])
        header = {"model": HEADER, **build.model_dump(mode="json", by_alias=True), "expiresAt": expires}
        with translated_errors(f"store co-purchase counts {build.version}"):
            self._dynamodb.put_item(TableName=self.table_name, Item=to_item(header))
        self._cached = (self._monotonic(), build)

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table_name: requests}
        for attempt in range(WRITE_RETRIES):
            with translated_errors("store co-purchase counts"):
                response = self._dynamodb.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            self._sleep(min(2.0, 0.05 * 2**attempt))
        raise TransientFailure("store co-purchase counts: the table kept refusing writes")


def version_of(built_at: datetime) -> str:
    return format_instant(built_at)
