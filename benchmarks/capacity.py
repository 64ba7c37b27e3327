"""DynamoDB request units, metered from the items themselves by DynamoDB's published rules.

moto answers every request but charges nothing (its ConsumedCapacity is a constant), so this meter watches a
client's calls and prices each one as DynamoDB on-demand would:

- An item's size is the sum of its attribute names (UTF-8 bytes) and values: a string its UTF-8 bytes, a binary its
  bytes, a number 1 byte per two significant digits plus 1, a boolean or null 1, a list or map 3 bytes plus 1 per
  element plus the elements (and, for a map, their names), a set the sum of its elements.
- A write costs 1 unit per KB (rounded up) of the larger of the item before and after it; a delete, of the item
  deleted; a write refused by its condition, of the item found (at least 1). In a transaction every item costs twice
  (DynamoDB prepares and commits each one).
- Each global secondary index whose entry the write changes costs a write of the entry's size (its keys, the
  table's keys and its projected attributes): an entry that appears is a put, one that goes a delete, one whose index
  key changes a delete and a put, one whose projected attributes change an update; an entry the write leaves alone
  costs nothing, which is what KEYS_ONLY and INCLUDE projections save.
- A read costs 1 unit per 4 KB (rounded up, per item for GetItem and BatchGetItem, over the whole page for Query),
  half that when eventually consistent, twice that in a transaction; an item not found still costs the minimum.
  A Query's page is priced on the entries it read, even with Select=COUNT.

Prices: DynamoDB on-demand, US East (N. Virginia), as published on aws.amazon.com/dynamodb/pricing/on-demand/
since the price reduction of 1 November 2024 (still the published price on 30 November 2026): $0.625 per million
write request units and $0.125 per million read request units.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

KB = 1024
WRITE_PRICE_PER_MILLION = 0.625
READ_PRICE_PER_MILLION = 0.125
PRICES_SOURCE = "DynamoDB on-demand, us-east-1, published prices since 1 November 2024"

Item = dict[str, dict[str, Any]]


def value_size(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "B":
        return len(content)
    if kind == "N":
        return _number_size(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in content)
    if kind == "NS":
        return sum(_number_size(n) for n in content)
    if kind == "BS":
        return sum(len(b) for b in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in content.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def _number_size(text: str) -> int:
    digits = text.lstrip("-+").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units_for(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units_for(size: int, *, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return units * (2 if transactional else 1) * (1 if consistent or transactional else 0.5)


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    included: frozenset[str] = frozenset()

    def entry(self, item: Item | None, table_keys: tuple[str, ...]) -> Item | None:
        """The item's entry in this index, or None when the item is not in it (sparse: an index key missing)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return item
        kept = {*self.keys, *table_keys, *(self.included if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in kept}


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    @classmethod
    def described(cls, description: dict[str, Any]) -> Table:
        """From DescribeTable's Table."""

        def keys(schema: list[dict[str, str]]) -> tuple[str, ...]:
            return tuple(key["AttributeName"] for key in schema)

        indexes = tuple(
            Index(
                name=index["IndexName"],
                keys=keys(index["KeySchema"]),
                projection=index["Projection"]["ProjectionType"],
                included=frozenset(index["Projection"].get("NonKeyAttributes", ())),
            )
            for index in description.get("GlobalSecondaryIndexes", [])
        )
        return cls(name=description["TableName"], keys=keys(description["KeySchema"]), indexes=indexes)

    def key_of(self, item: Item) -> Item:
        return {name: item[name] for name in self.keys}

    def write_units(self, before: Item | None, after: Item | None, *, transactional: bool = False) -> dict[str, int]:
        """Units by where they are spent: the table's name, then each index's as table/index."""
        units = {self.name: write_units_for(max(item_size(before), item_size(after))) * (2 if transactional else 1)}
        for index in self.indexes:
            old, new = index.entry(before, self.keys), index.entry(after, self.keys)
            if old == new:
                spent = 0
            elif old is None or new is None:
                spent = write_units_for(item_size(old or new))
            elif any(old[key] != new[key] for key in index.keys):
                spent = write_units_for(item_size(old)) + write_units_for(item_size(new))
            else:
                spent = write_units_for(max(item_size(old), item_size(new)))
            if spent:
                units[f"{self.name}/{index.name}"] = spent
        return units

    def index(self, name: str) -> Index:
        return next(index for index in self.indexes if index.name == name)


@dataclass
class Tally:
    """Units spent, by activity and by table (or table/index)."""

    writes: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    reads: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def write_units(self) -> float:
        return sum(self.writes.values())

    @property
    def read_units(self) -> float:
        return sum(self.reads.values())

    def cost_usd(self) -> float:
        return (self.write_units * WRITE_PRICE_PER_MILLION + self.read_units * READ_PRICE_PER_MILLION) / 1e6


_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
_READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")


class CapacityMeter:
    """Prices every DynamoDB call a client makes, inside `with meter.counting(activity):`.

    It reads each written item before and after the write with a second client of its own (uncounted), so it
    needs a backend that can be read back: moto, in process or as a server."""

    def __init__(self, watched: Any, reader: Any) -> None:
        self._reader = reader
        self._tables: dict[str, Table] = {}
        self.activity: str | None = None  # one at a time, seen by every thread: the email processor writes its
        # batch from a thread pool
        self.tallies: dict[str, Tally] = defaultdict(Tally)
        self._lock = threading.Lock()
        events = watched.meta.events
        for operation in (*_WRITES, *_READS):
            events.register(f"provide-client-params.dynamodb.{operation}", self._before)
            events.register(f"after-call.dynamodb.{operation}", self._after)

    @contextmanager
    def counting(self, activity: str) -> Iterator[Tally]:
        """Count every call the watched client makes meanwhile, from any thread, under this activity."""
        previous, self.activity = self.activity, activity
        try:
            yield self.tallies[activity]
        finally:
            self.activity = previous

    def table(self, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = Table.described(self._reader.describe_table(TableName=name)["Table"])
        return self._tables[name]

    # ---- hooks --------------------------------------------------------------------------------------------------

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.activity is None:
            return
        context["capacity.activity"] = self.activity
        if model.name in _WRITES:
            context["capacity.writes"] = [
                (table, key, self._current(table, key), transactional)
                for table, key, transactional in self._written(model.name, params)
            ]
        else:
            context["capacity.params"] = params

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
               **_: Any) -> None:  # fmt: skip
        activity = context.get("capacity.activity")
        if activity is None:
            return
        failed = "Error" in parsed
        spent: dict[str, float] = defaultdict(float)
        writing = model.name in _WRITES
        if writing:
            for table, key, before, transactional in context["capacity.writes"]:
                if failed:  # refused by a condition (or the transaction was): the item found is what was read
                    spent[table.name] += write_units_for(item_size(before)) * (2 if transactional else 1)
                    continue
                after = self._current(table, key)
                for where, units in table.write_units(before, after, transactional=transactional).items():
                    spent[where] += units
        elif not failed:
            spent.update(self._read(model.name, context["capacity.params"], parsed))
        with self._lock:
            tally = self.tallies[activity]
            tally.calls[model.name] += 1
            counted = tally.writes if writing else tally.reads
            for where, units in spent.items():
                counted[where] += units

    # ---- pricing ------------------------------------------------------------------------------------------------

    def _written(self, operation: str, params: dict[str, Any]) -> list[tuple[Table, Item, bool]]:
        if operation == "PutItem":
            table = self.table(params["TableName"])
            return [(table, table.key_of(params["Item"]), False)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(self.table(params["TableName"]), params["Key"], False)]
        if operation == "BatchWriteItem":
            written = []
            for name, requests in params["RequestItems"].items():
                table = self.table(name)
                for request in requests:
                    if "PutRequest" in request:
                        written.append((table, table.key_of(request["PutRequest"]["Item"]), False))
                    else:
                        written.append((table, request["DeleteRequest"]["Key"], False))
            return written
        written = []
        for action in params["TransactItems"]:
            ((kind, request),) = action.items()
            table = self.table(request["TableName"])
            written.append((table, table.key_of(request["Item"]) if kind == "Put" else request["Key"], True))
        return written

    def _current(self, table: Table, key: Item) -> Item | None:
        item: Item | None = self._reader.get_item(TableName=table.name, Key=key, ConsistentRead=True).get("Item")
        return item

    def _read(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> dict[str, float]:
        if operation == "GetItem":
            return {params["TableName"]: read_units_for(item_size(parsed.get("Item")),
                                                        consistent=bool(params.get("ConsistentRead")))}  # fmt: skip

        if operation == "BatchGetItem":
            spent: dict[str, float] = defaultdict(float)
            for name, items in parsed.get("Responses", {}).items():
                consistent = bool(params["RequestItems"][name].get("ConsistentRead"))
                for item in items:
                    spent[name] += read_units_for(item_size(item), consistent=consistent)
            return spent
        if operation == "TransactGetItems":
            spent = defaultdict(float)
            for action, response in zip(params["TransactItems"], parsed.get("Responses", []), strict=False):
                name = action["Get"]["TableName"]
                spent[name] += read_units_for(item_size(response.get("Item")), consistent=True, transactional=True)
            return spent
        where = params["TableName"] + (f"/{params['IndexName']}" if params.get("IndexName") else "")
        items = parsed.get("Items")
        if items is None or {"ProjectionExpression", "FilterExpression"} & set(params):
            items = self._entries_read(operation, params)  # COUNT, a projection or a filter: price what was read
        return {where: read_units_for(sum(item_size(item) for item in items),
                                      consistent=bool(params.get("ConsistentRead")))}  # fmt: skip

    def _entries_read(self, operation: str, params: dict[str, Any]) -> list[Item]:
        """The same page asked for whole and unfiltered."""
        whole = {k: v for k, v in params.items() if k not in ("Select", "ProjectionExpression", "FilterExpression")}
        used = set(re.findall(r"[#:][A-Za-z0-9_]+", str(whole.get("KeyConditionExpression", ""))))
        for placeholders in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in whole.pop(placeholders, {}).items() if k in used}
            if kept:
                whole[placeholders] = kept
        read = self._reader.query if operation == "Query" else self._reader.scan
        items: list[Item] = read(**whole).get("Items", [])
        return items
