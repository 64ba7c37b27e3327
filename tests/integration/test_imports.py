"""Bulk imports, as an operator runs them: files with good and bad rows, an interruption, a file that is not UTF-8,
a header without a column, Shopify's product export. The scripts' main() against moto's tables."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scripts import import_catalog, import_orders
from tests.support.events import client_values, to_image

HEADER = "userId,orderId,orderedAt,amount,currency,productId,quantity,unitPrice\n"


@pytest.fixture
def shop(aws: dict[str, Any]) -> dict[str, Any]:
    """Two clients and two products in the tables."""
    for user_id in ("c-1", "c-2"):
        values = client_values(user_id, createdAt="2024-01-01T00:00:00.000Z", orderCount=0, averageOrderValue=0)
        values.pop("lastOrderDate", None)
        aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(values))
    for product_id, category in (("top-1", "tops"), ("pan-1", "pants")):
        aws["dynamodb"].put_item(TableName=aws["deployed"].tables["products"], Item={
            "productId": {"S": product_id}, "title": {"S": product_id}, "url": {"S": "https://shop.example.com/p"},
            "category": {"S": category}, "price": {"N": "10"}, "currency": {"S": "USD"}, "inStock": {"BOOL": True},
            "updatedAt": {"S": "2026-01-01T00:00:00.000Z"}})  # fmt: skip
    return aws


def client(aws: dict[str, Any], user_id: str) -> dict[str, Any]:
    from engagement.adapters.store.dynamo import from_item

    key = {"userId": {"S": user_id}}
    return from_item(aws["dynamodb"].get_item(TableName=aws["deployed"].tables["users"], Key=key)["Item"])


def orders_of(aws: dict[str, Any], user_id: str) -> list[str]:
    found = aws["dynamodb"].query(TableName=aws["deployed"].tables["orders"], KeyConditionExpression="userId = :u",
                                  ExpressionAttributeValues={":u": {"S": user_id}})["Items"]  # fmt: skip
    return sorted(item["orderId"]["S"] for item in found)


def run_orders(path: Path, aws: dict[str, Any], *extra: str) -> int:
    return import_orders.main([str(path), "--no-progress", *extra], dynamodb=aws["dynamodb"])


def test_good_rows_are_imported_and_each_bad_row_is_reported_with_its_line(
    shop: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "\n".join([
        "c-1,o-1,2026-03-01T10:00:00Z,30.00,USD,top-1,1,10.00",
        "c-1,o-1,2026-03-01T10:00:00Z,30.00,USD,pan-1,2,10.00",  # the same order's second line item
        "c-1,o-2,2026-04-01T10:00:00Z,-5,USD,,,",
        "c-1,o-3,2026-05-01T10:00:00Z,ten,USD,,,",
        "c-2,o-4,2031-01-01T10:00:00Z,5,USD,,,",
        "c-2,o-5,2023-01-01T10:00:00Z,5,USD,,,",
        "c-9,o-6,2026-05-01T10:00:00Z,5,USD,,,",
        "c-2,o-7,2026-05-01T10:00:00Z,5,EUR,,,",
        "c-2,o-8,2026-06-01T10:00:00Z,12.50,,mystery,1,12.50",
        "c-2,o-9,2026-06-02T10:00:00Z,12.50,USD,top-1,0,12.50",
        "c-2,o-10,2026-06-03,7,USD,,,",
        "c-2,,2026-06-04T10:00:00Z,7,USD,top-1,1,3.50",
        "c-2,,2026-06-04T10:00:00Z,7,USD,pan-1,1,3.50",
    ]) + "\n")  # fmt: skip

    assert run_orders(path, shop) == 3  # some rows refused

    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "line 4: amount: must not be negative",
        "line 5: amount: Input should be a valid decimal",
        "line 6: orderedAt: 2031-01-01T10:00:00.000Z is in the future",
        "line 7: orderedAt: 2023-01-01T10:00:00.000Z is before the client joined (2024-01-01T00:00:00.000Z)",
        "line 8: userId: no client 'c-9' (add the client first)",
        "line 9: currency: the shop's currency is USD; EUR amounts need converting",
        "line 11: quantity: Input should be greater than or equal to 1",
        "line 12: orderedAt: Input should have timezone info",
        "line 13: orderId: missing (a file's orders need their ids, so a resumed import counts each once and an "
        "order's line items stay together)",
        "line 14: orderId: missing (a file's orders need their ids, so a resumed import counts each once and an "
        "order's line items stay together)",
    ]
    assert out.startswith("2 orders imported, 10 rows refused, 1 flagged")
    assert orders_of(shop, "c-1") == ["o-1"]
    assert orders_of(shop, "c-2") == ["o-8"]  # imported, flagged: mystery is not in the catalog
    assert (client(shop, "c-1")["orderCount"], client(shop, "c-1")["totalSpent"]) == (1, Decimal("30"))
    assert client(shop, "c-1")["categoryCounts"] == {"tops": 1, "pants": 2}


def test_an_interrupted_import_resumes_after_its_last_chunk_and_counts_each_order_once(
    shop: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.jsonl"
    lines = [json.dumps({"userId": f"c-{1 + n % 2}", "orderId": f"o-{n}", "amount": "10.00",
                         "orderedAt": f"2026-05-{1 + n % 28:02}T10:00:00Z"}) for n in range(50)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    calls = {"chunks": 0}
    writer_call = import_orders.OrderWriter.__call__

    def crashing_writer(self: Any, chunk: Any, advance: Any) -> Any:
        calls["chunks"] += 1
        if calls["chunks"] == 3:
            raise ConnectionError("the connection dropped")  # as a network failure mid-import would
        return writer_call(self, chunk, advance)

    monkeypatch.setattr(import_orders.OrderWriter, "__call__", crashing_writer)
    assert run_orders(path, shop, "--chunk-rows", "10") == 1
    assert "run the same command again to resume" in capsys.readouterr().err
    assert len(orders_of(shop, "c-1")) + len(orders_of(shop, "c-2")) == 20  # two chunks of ten written

    calls["chunks"] = -100  # the connection is back
    assert run_orders(path, shop, "--chunk-rows", "10") == 0
    assert "resuming" in capsys.readouterr().err
    assert (len(orders_of(shop, "c-1")), len(orders_of(shop, "c-2"))) == (25, 25)
    assert (client(shop, "c-1")["orderCount"], client(shop, "c-2")["orderCount"]) == (25, 25)
    assert run_orders(path, shop) == 0  # run again: nothing to do
    assert "imported already" in capsys.readouterr().err
    assert run_orders(path, shop, "--restart") == 0  # forced: every order is found recorded, counted once
    assert "0 orders imported, 50 recorded before (counted once)" in capsys.readouterr().out
    assert client(shop, "c-1")["orderCount"] == 25


def test_a_file_without_a_required_column_is_refused_before_anything_is_written(
    shop: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("userId,orderId,amount\nc-1,o-1,10\n")
    assert run_orders(path, shop) == 2
    assert "line 1: the header lacks orderedAt" in capsys.readouterr().err
    assert orders_of(shop, "c-1") == []


def test_a_row_that_is_not_utf8_is_reported_and_the_rest_imported(
    shop: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(HEADER.encode() + b"c-1,o-1,2026-03-01T10:00:00Z,10,USD,,,\n"
                     + "c-1,o-2,2026-03-02T10:00:00Z,10,USD,caf\u00e9,1,10\n".encode("latin-1")
                     + b"c-1,o-3,2026-03-03T10:00:00Z,10,USD,,,\n")  # fmt: skip
    assert run_orders(path, shop) == 3
    assert capsys.readouterr().err.splitlines() == [
        "line 3: productId: not UTF-8 text; save the file as UTF-8 (CSV UTF-8)"
    ]
    assert orders_of(shop, "c-1") == ["o-1", "o-3"]


def test_the_catalog_imports_from_shopifys_product_export(
    shop: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "products_export.csv"
    path.write_text(
        "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Variant SKU,"
        "Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,Variant Price,Image Src,Status\n"
        'linen-trousers,Linen trousers,"<p>Light, airy</p>",Northwind,pants,linen,TRUE,Size,M,LT-M,shopify,0,deny,'
        "82.00,https://cdn.shopify.com/lt-1.jpg,active\n"
        ",,,,,,,,L,LT-L,shopify,3,deny,79.00,https://cdn.shopify.com/lt-2.jpg,\n"  # Shopify leaves Handle on
        "wool-coat,Wool coat,,Northwind,outerwear,,TRUE,Size,M,WC-M,shopify,0,deny,240.00,,draft\n"
        "bad-one,Bad one,,Northwind,tops,,TRUE,Size,M,B-M,,,deny,cheap,,active\n"
    )
    # Shopify's export repeats the handle on a product's later rows; write it so
    text = path.read_text().replace("\n,,,,,,,,L,", "\nlinen-trousers,,,,,,,,L,")
    path.write_text(text)

    status = import_catalog.main([str(path), "--no-progress"], dynamodb=shop["dynamodb"])

    assert status == 3
    warning, problem = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("warning: this export has no ID column, so products are keyed by their handle")
    assert problem == "line 5: Variant Price: a variant's price 'cheap' is not a number"
    from engagement.adapters.store.products import ProductRepository

    products = ProductRepository(shop["deployed"].tables["products"], shop["dynamodb"])
    trousers, coat = products.get("linen-trousers"), products.get("wool-coat")
    assert trousers is not None
    assert coat is not None
    assert (trousers.price, trousers.in_stock, trousers.url, trousers.image_url) == (
        Decimal("79.00"),
        True,
        "https://shop.example.com/products/linen-trousers",
        "https://cdn.shopify.com/lt-1.jpg",
    )
    assert (coat.in_stock, coat.category) == (False, "outerwear")  # a draft is not for sale


def test_the_catalog_refuses_rows_that_link_elsewhere_and_keeps_a_newer_version(
    shop: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(
        "productId,title,url,imageUrl,category,price,currency,inStock,updatedAt\n"
        "top-1,Old title,https://shop.example.com/p,,tops,9,USD,true,2025-01-01T00:00:00Z\n"
        "top-2,Phish,https://shop.example.com.evil.net/p,,tops,9,USD,true,\n"
        "top-3,Tracker,https://shop.example.com/p,https://pixel.example.net/t.gif,tops,9,USD,true,\n"
        "top-4,New,https://shop.example.com/p,,tops,19,,false,\n"
    )
    assert import_catalog.main([str(path), "--no-progress"], dynamodb=shop["dynamodb"]) == 3
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "line 3: url: must be on the shop's own domains (shop.example.com)",
        "line 4: imageUrl: must be on the shop's domains or image hosts (shop.example.com, cdn.shopify.com)",
    ]
    assert "1 products imported, 1 older than the catalog's (kept the newer), 2 rows refused" in captured.out
