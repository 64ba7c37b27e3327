"""The orders table: one item per order, keyed by (userId, orderId); the byUser index lists a client's orders by
orderedAt.

An order is written together with the client's new aggregates in one transaction: the order's put on the condition
that the order is new (idempotent by client and order id), the users item's update on the condition that its
aggregates are still what they were read as. Both happen or neither, so a client's aggregates never count an order
twice or miss one, and the users stream sees one change however many orders a transaction carries.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from engagement.adapters import aws
from engagement.adapters.aws import error_code
from engagement.adapters.store.dynamo import from_item, to_item, translated_errors
from engagement.adapters.store.pagination import MAX_PAGE_SIZE, Page, cursor_refusals, decode_cursor, encode_cursor
from engagement.clock import format_instant, parse_instant
from engagement.domain.orders import Order
from engagement.domain.recommendations import Bought
from engagement.errors import Conflict, Refused, TransientFailure

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

BY_USER_INDEX = "byUser"
MAX_ORDERS_PER_WRITE = 99  # a transaction holds at most 100 actions: the orders and the client's update
_TRANSIENT = frozenset({"TransactionConflict", "ProvisionedThroughputExceeded", "ThrottlingError"})
CONFLICT_RETRIES = 4


class DuplicateOrders(Exception):
    """Some of the orders were recorded before: nothing was written; their ids are given."""

    def __init__(self, order_ids: Sequence[str]) -> None:
        super().__init__(f"recorded before: {', '.join(order_ids)}")
        self.order_ids = tuple(order_ids)


class OrderRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def record(self, orders: Sequence[Order], client_update: Mapping[str, Any]) -> None:
        """Write new orders and the client's update (a transaction item's Update, from UserRepository) at once.

        DuplicateOrders if any order exists already (nothing written: write the others again without them);
        Conflict if the client's item changed since it was read, or is gone; TransientFailure when throttled."""
        if not 1 <= len(orders) <= MAX_ORDERS_PER_WRITE:
            raise ValueError(f"1 to {MAX_ORDERS_PER_WRITE} orders a write, not {len(orders)}")
        actions = [
            {"Put": {"TableName": self.table_name, "Item": to_item(order.item()),
                     "ConditionExpression": "attribute_not_exists(orderId)"}}
            for order in orders
        ]  # fmt: skip
        actions.append({"Update": dict(client_update)})
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                with translated_errors(f"record {len(orders)} orders of {orders[0].user_id}"):
                    self._dynamodb.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
                return
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise Refused(f"record orders of {orders[0].user_id}: {exc}") from exc
                codes = [reason.get("Code") for reason in exc.response.get("CancellationReasons") or []]
                failed = [order for order, code in zip(orders, codes, strict=False) if code == "ConditionalCheckFailed"]
                duplicates = [order.order_id for order in failed]
                if duplicates:
                    raise DuplicateOrders(duplicates) from exc
                if len(codes) == len(actions) and codes[-1] == "ConditionalCheckFailed":
                    raise Conflict(f"client {orders[0].user_id} changed meanwhile") from exc
                if not set(codes) & _TRANSIENT:
                    raise Refused(f"record orders of {orders[0].user_id}: {exc}") from exc
            time.sleep(random.uniform(0.005, 0.03) * attempt)  # noqa: S311 - a jitter, not a secret
        raise TransientFailure(f"record orders of {orders[0].user_id}: kept meeting other writes")

    def get(self, user_id: str, order_id: str) -> Order | None:
        with translated_errors(f"read order {order_id}"):
            response = self._dynamodb.get_item(
                TableName=self.table_name,
                Key={"userId": {"S": user_id}, "orderId": {"S": order_id}},
                ConsistentRead=True,
            )
        item = response.get("Item")
        return Order.model_validate(from_item(item)) if item else None

    def for_user(self, user_id: str, *, limit: int, cursor: str | None = None) -> Page[Order]:
        """The client's orders, newest first."""
        start = decode_cursor(cursor, {"userId", "orderId", "orderedAt"}, partition=("userId", user_id))
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": "userId = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "ScanIndexForward": False,
            "Limit": min(limit, MAX_PAGE_SIZE),
        }
        if start:
            request["ExclusiveStartKey"] = start
        with cursor_refusals(start), translated_errors(f"list orders of {user_id}"):
            response = self._dynamodb.query(**request)
        orders = [Order.model_validate(from_item(item)) for item in response.get("Items", [])]
        return Page(items=orders, next_cursor=encode_cursor(response.get("LastEvaluatedKey")))

    def all_for_user(self, user_id: str) -> Iterator[Order]:
        """Every order of the client (the table, all pages, consistent): for recomputing their aggregates."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "userId = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "ConsistentRead": True,
        }
        while True:
            with translated_errors(f"read orders of {user_id}"):
                response = self._dynamodb.query(**request)
            yield from (Order.model_validate(from_item(item)) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def purchases(self, *, since: datetime, page_size: int = 1000) -> Iterator[Bought]:
        """Every order placed since `since`, as who bought which products when: a scan that reads only those
        attributes (for the co-purchase counts the sweep keeps; engagement.services.co_purchases)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "ProjectionExpression": "userId, orderedAt, lineItems",
            "FilterExpression": "orderedAt >= :since",
            "ExpressionAttributeValues": {":since": {"S": format_instant(since)}},
            "Limit": page_size,
        }
        while True:
            with translated_errors("scan the orders"):
                response = self._dynamodb.scan(**request)
            for item in response.get("Items", []):
                lines = item.get("lineItems", {}).get("L", [])
                products = frozenset(line["M"]["productId"]["S"] for line in lines if "productId" in line.get("M", {}))
                if products:
                    yield Bought(item["userId"]["S"], parse_instant(item["orderedAt"]["S"]), products)
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
