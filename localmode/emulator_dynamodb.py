"""DynamoDB in the emulator, made to apply each request atomically, as DynamoDB does.

moto applies a request in steps (read the item, check the condition, write) with no lock, so requests from
concurrent threads interleave: two conditional puts both see no item, an ADD loses an increment, two stream records
get one sequence number. The local mode's functions write concurrently (the email processor runs ten threads),
so here every item request of the DynamoDB backend holds one lock.

moto's TransactWriteItems also deep-copies every table a transaction touches before it starts and, when a condition
fails, puts the copies back: that costs time in proportion to the whole table (a counted write on a table of
10,000 decisions copies all of them, every time) and would erase other requests' writes. DynamoDB does neither.
Here a transaction checks all its conditions first and writes only if every one holds; only the items it names are
saved beforehand, to be put back if a write fails half-way.

moto answers a query on a table's own key by sorting every item of the table and keeping those of the partition
asked for, so each query costs time in proportion to the table: the email processor's look at a client's decisions
slows as decisions accumulate (10,000 clients: about 20,000 items sorted for every message). Here it reads the one
partition, as DynamoDB does. (Queries on an index still read the whole table.)

Installed by the emulator (moto server) and by the tests' in-process moto.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_ONE_AT_A_TIME = threading.RLock()  # re-entrant: a batch write or a transaction calls put_item and update_item
_KINDS = ("ConditionCheck", "Put", "Delete", "Update")
# The backend's requests that read or write items.
_ITEM_REQUESTS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan", "batch_get_item",
                  "batch_write_item", "transact_get_items", "transact_write_items")  # fmt: skip


def _key(backend: DynamoDBBackend, kind: str, op: dict[str, Any]) -> dict[str, Any]:
    if kind != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: op["Item"][name] for name in names}


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """All or nothing, touching nothing else (atomic as every item request here, once installed)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    steps: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) != 1:
            raise TransactWriteSingleOpException()
        kind, op = next(iter(entry.items()))
        if kind not in _KINDS:
            raise ValueError(f"Unsupported transaction operation {kind}")
        key = _key(self, kind, op)
        target = (op["TableName"], repr(sorted(key.items())))
        if target in seen:
            raise MultipleTransactionsException()
        seen.add(target)
        steps.append((kind, op, key))
    reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for _, op, key in steps:
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if condition is None or get_filter_expression(condition, names, values).expr(current):
            reasons.append((None, None, None))
            continue
        wants_item = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        item = current.to_json()["Attributes"] if wants_item and current is not None else None
        reasons.append(("ConditionalCheckFailed", "The conditional request failed", item))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    before = [(op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))) for _, op, key in steps]
    try:
        for kind, op, key in steps:
            if kind == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif kind == "Update":
                names, values = op.get("ExpressionAttributeNames") or {}, op.get("ExpressionAttributeValues") or {}
                self.update_item(op["TableName"], key, op["UpdateExpression"], names, values)
            elif kind == "Delete":
                self.delete_item(op["TableName"], key)
    except Exception:
        for table_name, key, item in before:  # all or nothing: the items as they were
            if item is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, item.to_json()["Attributes"])
        raise


def _atomic(request: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(request)
    def one_at_a_time(*args: Any, **kwargs: Any) -> Any:
        with _ONE_AT_A_TIME:
            return request(*args, **kwargs)

    one_at_a_time.atomic = True  # type: ignore[attr-defined]
    return one_at_a_time


def _one_partition(query: Callable[..., Any]) -> Callable[..., Any]:
    """Table.query on the table's own key, reading only the partition asked for (moto's sorts the whole table)."""
    index_position = 6  # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
    #                                 scan_index_forward, projection_expressions, index_name, ...)

    @functools.wraps(query)
    def partition_only(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[index_position] if len(args) > index_position else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key)  # a defaultdict: .get creates nothing
        if partition is None:
            items = []
        elif self.range_key_attr:
            items = sorted(partition.values(), key=lambda item: item.range_key)
        else:
            items = [partition]
        self.all_items = lambda: items  # type: ignore[method-assign]  # this call only: requests run one at a time
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    return partition_only


def install() -> None:
    if getattr(DynamoDBBackend.put_item, "atomic", False):
        return
    Table.query = _one_partition(Table.query)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name in _ITEM_REQUESTS:
        setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))
