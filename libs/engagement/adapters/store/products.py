"""The products table: one item per product, keyed by productId; the byCategory index lists a category's products.

A write never replaces a newer version of a product with an older one (updatedAt decides), so a store's webhooks,
which may arrive out of order, and a catalog import of an older export cannot roll the catalog back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from engagement.adapters import aws
from engagement.adapters.store.dynamo import from_item, is_condition_failure, to_item, translated_errors
from engagement.adapters.store.pagination import MAX_PAGE_SIZE, Page, cursor_refusals, decode_cursor, encode_cursor
from engagement.clock import format_instant
from engagement.domain.catalog import Product

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

BY_CATEGORY_INDEX = "byCategory"
BATCH_GET_LIMIT = 100
MAX_EXAMINED = 1000  # a filtered page reads at most this many products before it returns what it found


class ProductRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def get(self, product_id: str) -> Product | None:
        with translated_errors(f"read product {product_id}"):
            response = self._dynamodb.get_item(TableName=self.table_name, Key={"productId": {"S": product_id}})
        item = response.get("Item")
        return Product.model_validate(from_item(item)) if item else None

    def put(self, product: Product) -> bool:
        """Store the product unless the table holds a newer version of it; False if it did (nothing written)."""
        try:
            with translated_errors(f"store product {product.product_id}"):
                self._dynamodb.put_item(
                    TableName=self.table_name,
                    Item=to_item(product.item()),
                    ConditionExpression="attribute_not_exists(productId) OR updatedAt <= :at",
                    ExpressionAttributeValues={":at": {"S": format_instant(product.updated_at)}},
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def delete(self, product_id: str) -> bool:
        """Remove a product; False if there was none."""
        try:
            with translated_errors(f"delete product {product_id}"):
                self._dynamodb.delete_item(
                    TableName=self.table_name,
                    Key={"productId": {"S": product_id}},
                    ConditionExpression="attribute_exists(productId)",
                )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def categories_of(self, product_ids: Iterable[str]) -> dict[str, str]:
        """product id -> category for the ids the catalog has (the others are absent)."""
        wanted = list(dict.fromkeys(product_ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys: list[dict[str, Any]] = [{"productId": {"S": pid}} for pid in wanted[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ProjectionExpression": "productId, category"}}
            while request:
                with translated_errors("read product categories"):
                    response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    found[item["productId"]["S"]] = item["category"]["S"]
                request = response.get("UnprocessedKeys") or {}
        return found

    def get_many(self, product_ids: Iterable[str]) -> dict[str, Product]:
        """product id -> product, for the ids the catalog has (the others are absent)."""
        wanted = list(dict.fromkeys(product_ids))
        found: dict[str, Product] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys: list[dict[str, Any]] = [{"productId": {"S": pid}} for pid in wanted[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys}}
            while request:
                with translated_errors("read products"):
                    response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    product = Product.model_validate(from_item(item))
                    found[product.product_id] = product
                request = response.get("UnprocessedKeys") or {}
        return found

    def in_stock_in(self, category: str, *, limit: int) -> list[Product]:
        """Up to limit in-stock products of a category (its index; at most MAX_EXAMINED read)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CATEGORY_INDEX,
            "KeyConditionExpression": "category = :category",
            "FilterExpression": "inStock = :stock",
            "ExpressionAttributeValues": {":category": {"S": category}, ":stock": {"BOOL": True}},
            "Limit": limit,
        }
        found: list[Product] = []
        examined = 0
        while len(found) < limit and examined < MAX_EXAMINED:
            with translated_errors(f"list products in {category}"):
                response = self._dynamodb.query(**request)
            examined += int(response.get("ScannedCount", 0))
            found += [Product.model_validate(from_item(item)) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]

    def page(
        self, *, limit: int, cursor: str | None = None, category: str | None = None, in_stock: bool | None = None
    ) -> Page[Product]:
        """Products by id, a category's (its index) or all (a scan); only those in or out of stock if asked. A
        filtered page may hold fewer than limit with a cursor to go on from."""
        limit = min(limit, MAX_PAGE_SIZE)
        keys = {"productId", "category"} if category else {"productId"}
        start = decode_cursor(cursor, keys, partition=("category", category) if category else None)
        request: dict[str, Any] = {"TableName": self.table_name, "Limit": limit}
        if category:
            request |= {
                "IndexName": BY_CATEGORY_INDEX,
                "KeyConditionExpression": "category = :category",
                "ExpressionAttributeValues": {":category": {"S": category}},
            }
        if in_stock is not None:
            request["FilterExpression"] = "inStock = :stock"
            request.setdefault("ExpressionAttributeValues", {})[":stock"] = {"BOOL": in_stock}
        found: list[Product] = []
        examined = 0
        while True:
            if start:
                request["ExclusiveStartKey"] = start
            with cursor_refusals(start), translated_errors("list products"):
                response = self._dynamodb.query(**request) if category else self._dynamodb.scan(**request)
            examined += int(response.get("ScannedCount", 0))
            found += [Product.model_validate(from_item(item)) for item in response.get("Items", [])]
            start = response.get("LastEvaluatedKey")
            if start is None or len(found) >= limit or examined >= MAX_EXAMINED:
                break
            request["Limit"] = limit - len(found) if in_stock is None else limit
        if len(found) > limit:
            found = found[:limit]
            last = found[-1]
            start = {"productId": {"S": last.product_id}} | ({"category": {"S": last.category}} if category else {})
        return Page(items=found, next_cursor=encode_cursor(start))
