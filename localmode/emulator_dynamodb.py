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
partition, as DynamoDB does. It answers a query on an index the same way, reading every item of the table: here
each table keeps, beside moto's items, the keys of its items under each value of each index's partition key,
updated by every write, so an index query reads what it returns (the email processor's look at a client's emails,
the review queue's by status).

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
    """Table.query reading only the items under the partition key asked for: the table's own (moto's sorts the whole
    table) or an index's (moto filters the whole table), from the keys kept beside it."""
    index_position = 6  # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
    #                                 scan_index_forward, projection_expressions, index_name, ...)

    @functools.wraps(query)
    def partition_only(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[index_position] if len(args) > index_position else kwargs.get("index_name")
        if index_name:
            items = _index_partition(self, index_name, kwargs.get("hash_key_conditions") or [])
        elif hash_key is not None:
            partition = self.items.get(hash_key)  # a defaultdict: .get creates nothing
            if partition is None:
                items = []
            elif self.range_key_attr:
                items = sorted(partition.values(), key=lambda item: item.range_key)
            else:
                items = [partition]
        else:
            items = None
        if items is None:
            return query(self, hash_key, *args, **kwargs)
        self.all_items = lambda: items  # type: ignore[method-assign]  # this call only: requests run one at a time
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    return partition_only


class _IndexedKeys:
    """Beside one table: for each index, the keys of the items under each value of its partition key."""

    def __init__(self, table: Table) -> None:
        self.hash_attribute = {
            index.name: hashes[0]
            for index in table.all_indexes()
            if len(hashes := [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]) == 1
        }
        self.keys: dict[str, dict[Any, dict[tuple[Any, Any], None]]] = {name: {} for name in self.hash_attribute}
        self.placed: dict[tuple[Any, Any], list[tuple[str, Any]]] = {}  # an item's key → where it is listed
        for item in table.all_items():
            self.note(item)

    def forget(self, key: tuple[Any, Any]) -> None:
        for index_name, value in self.placed.pop(key, []):
            listed = self.keys[index_name].get(value, {})
            listed.pop(key, None)
            if not listed:
                self.keys[index_name].pop(value, None)

    def note(self, item: Any) -> None:
        key = (item.hash_key, item.range_key)
        self.forget(key)
        places = []
        for index_name, attribute in self.hash_attribute.items():
            value = item.attrs.get(attribute)
            if value is not None:
                self.keys[index_name].setdefault(value, {})[key] = None
                places.append((index_name, value))
        if places:
            self.placed[key] = places


def _indexed(table: Table, *, build: bool) -> _IndexedKeys | None:
    indexed: _IndexedKeys | None = getattr(table, "_emulator_indexed_keys", None)
    if indexed is None and build:
        indexed = _IndexedKeys(table)
        table._emulator_indexed_keys = indexed  # type: ignore[attr-defined]
    return indexed


def _index_partition(table: Table, index_name: str, hash_conditions: list[tuple[str, Any]]) -> list[Any] | None:
    """The items listed under the value the query asks for, or None (moto's own way) for what is not kept here."""
    indexed = _indexed(table, build=True)
    assert indexed is not None
    attribute = indexed.hash_attribute.get(index_name)
    values = [value for name, value in hash_conditions if name == attribute]
    if attribute is None or len(hash_conditions) != 1 or len(values) != 1:
        return None
    items = []
    for hash_key, range_key in indexed.keys[index_name].get(values[0], {}):
        item = table.get_item(hash_key, range_key)
        if item is not None:
            items.append(item)
    return items


def _keeping_index_keys(write: Callable[..., Any], kind: str) -> Callable[..., Any]:
    """A write of the table's (put, delete) or the backend's (update, which changes the item in place) that also
    updates the keys kept beside the table, if they have been built."""

    @functools.wraps(write)
    def written(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = write(self, *args, **kwargs)
        if kind == "delete":
            indexed = _indexed(self, build=False)
            if indexed is not None:
                indexed.forget((args[0], args[1] if len(args) > 1 else kwargs.get("range_key")))
        elif result is not None:
            table = self if kind == "put" else self.get_table(args[0] if args else kwargs["table_name"])
            indexed = _indexed(table, build=False)
            if indexed is not None:
                indexed.note(result)
        return result

    return written


def install() -> None:
    if getattr(DynamoDBBackend.put_item, "atomic", False):
        return
    Table.query = _one_partition(Table.query)  # type: ignore[method-assign]
    Table.put_item = _keeping_index_keys(Table.put_item, "put")  # type: ignore[method-assign]
    Table.delete_item = _keeping_index_keys(Table.delete_item, "delete")  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _keeping_index_keys(DynamoDBBackend.update_item, "update")  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name in _ITEM_REQUESTS:
        setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))
