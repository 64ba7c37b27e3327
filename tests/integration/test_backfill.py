"""make backfill: every client's aggregates recomputed from the orders table, resumably, writing only what is wrong."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scripts import backfill_aggregates
from stack import resources
from tests.support.events import client_values, to_image


def put(aws: dict[str, Any], table: str, item: dict[str, Any]) -> None:
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables[table], Item=to_image(item))


def stored(aws: dict[str, Any], user_id: str) -> dict[str, Any]:
    from engagement.adapters.store.dynamo import from_item

    key = {"userId": {"S": user_id}}
    return from_item(aws["dynamodb"].get_item(TableName=resources.USERS.name, Key=key)["Item"])


def order(user_id: str, order_id: str, at: str, amount: str, product: str) -> dict[str, Any]:
    return {"userId": user_id, "orderId": order_id, "orderedAt": at, "amount": Decimal(amount), "currency": "USD",
            "lineItems": [{"productId": product, "quantity": 1, "unitPrice": Decimal(amount)}], "source": "import",
            "recordedAt": at, "flags": []}  # fmt: skip


def test_the_backfill_fixes_wrong_aggregates_leaves_upstream_clients_and_resumes(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(aws, "products", {"productId": "top-1", "title": "Tee", "url": "https://shop.example.com/t", "category": "tops",
                          "price": Decimal(10), "currency": "USD", "inStock": True,
                          "updatedAt": "2026-01-01T00:00:00.000Z"})  # fmt: skip
    for n in range(210):  # more than one of the scan's pages
        put(aws, "users", client_values(f"c-{n:03}", createdAt="2024-01-01T00:00:00.000Z", orderCount=7,
                                        averageOrderValue=1))  # fmt: skip
    for n in range(0, 210, 3):  # every third client has orders in the table; their items say 7 orders of 1.00
        put(aws, "orders", order(f"c-{n:03}", "o-1", "2025-02-01T10:00:00.000Z", "20.00", "top-1"))
        put(aws, "orders", order(f"c-{n:03}", "o-2", "2026-03-01T10:00:00.000Z", "30.50", "top-1"))
    put(aws, "users", client_values("up-1", createdAt="2024-01-01T00:00:00.000Z", orderCount=5, averageOrderValue=50))
    from engagement.domain.orders import OrderInput, OrderSource
    from scripts.import_orders import order_service

    service = order_service(aws["dynamodb"], users=resources.USERS.name, orders=resources.ORDERS.name,
                            products=resources.PRODUCTS.name, currency="USD")  # fmt: skip
    service.record("up-1", [OrderInput(order_id="web-1", amount=Decimal(100))], OrderSource.API)  # 5 upstream + 1
    state = tmp_path / "state.json"
    scans = {"pages": 0}
    real_scan = aws["dynamodb"].scan

    def dropped_on_the_second_page(**request: Any) -> Any:
        scans["pages"] += 1
        if scans["pages"] == 2:
            raise ConnectionError("the connection dropped")
        return real_scan(**request)

    aws["dynamodb"].scan = dropped_on_the_second_page
    assert backfill_aggregates.main(["--state", str(state), "--no-progress"], dynamodb=aws["dynamodb"]) == 1
    assert "resume" in capsys.readouterr().err
    assert stored(aws, "c-000")["orderCount"] == 2  # the first page was done

    assert backfill_aggregates.main(["--state", str(state), "--no-progress"], dynamodb=aws["dynamodb"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("211 clients examined: 70 recomputed, 1 already right, 140 without orders in the table")
    fixed, upstream = stored(aws, "c-207"), stored(aws, "c-208")
    assert (fixed["orderCount"], fixed["totalSpent"], fixed["averageOrderValue"]) == (
        2,
        Decimal("50.5"),
        Decimal("25.25"),
    )
    assert (fixed["firstOrderDate"], fixed["lastOrderDate"]) == ("2025-02-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z")
    assert fixed["categoryCounts"] == {"tops": 2}
    assert (upstream["orderCount"], upstream["averageOrderValue"]) == (7, 1)  # an upstream writer's: left alone
    counted_here = stored(aws, "up-1")
    assert (counted_here["orderCount"], counted_here["totalSpent"]) == (6, Decimal(350))  # upstream's 5 stay

    assert backfill_aggregates.main(["--state", str(state), "--no-progress"], dynamodb=aws["dynamodb"]) == 0
    assert "is done" in capsys.readouterr().err
    assert backfill_aggregates.main(["--state", str(state), "--no-progress", "--restart"],
                                    dynamodb=aws["dynamodb"]) == 0  # fmt: skip
    assert "0 recomputed, 71 already right" in capsys.readouterr().out  # nothing written twice: no events
