"""Shopify's webhooks, as Shopify sends them: signed with the shared secret, answered at once, handled from the queue.

The payloads are in Shopify's own JSON shape (tests/fixtures/shopify/, after the REST Admin API's orders/create and
products/create examples). Each test sends through the API's handler, then runs the store_webhooks handler on what
the API queued, as the queue's event source mapping would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from stack import resources
from tests.support.api import Answer, api_request
from tests.support.clock import FixedClock
from tests.support.events import batch, sqs_record
from tests.support.handlers import LambdaContext

SECRET = "shpss_0123456789abcdef0123456789abcdef"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
NOW = "2026-11-28T12:00:00+00:00"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def handlers(load_handler: Any) -> dict[str, ModuleType]:
    from datetime import datetime

    clock = FixedClock(datetime.fromisoformat(NOW))
    return {
        "api": load_handler("api", clock=clock, SHOPIFY_WEBHOOK_SECRET=SECRET),
        "worker": load_handler("store_webhooks", clock=clock),
    }


def send(
    handlers: dict[str, ModuleType],
    topic: str,
    payload: dict[str, Any] | bytes,
    *,
    webhook_id: str,
    signature: str | None = None,
) -> Answer:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id,
               "X-Shopify-Shop-Domain": "northwind.myshopify.com", "X-Shopify-API-Version": "2025-10",
               "X-Shopify-Hmac-Sha256": signed(body) if signature is None else signature}  # fmt: skip
    return api_request(handlers["api"], "POST", "/webhooks/shopify", body, token=None, headers=headers)


def handle_queued(aws: dict[str, Any], handlers: dict[str, ModuleType]) -> dict[str, Any]:
    """Receive what the API queued and run the worker on it, as the event source mapping would."""
    url = aws["deployed"].queue_urls[resources.STORE_WEBHOOKS.logical_name]
    messages = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        aws["sqs"].delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    if not messages:
        return {"handled": 0}
    response: dict[str, Any] = handlers["worker"].lambda_handler(
        batch(*(sqs_record(m["Body"]) for m in messages)), LambdaContext()
    )
    return {"handled": len(messages), **response}


def dead_letters(aws: dict[str, Any]) -> list[dict[str, Any]]:
    url = aws["deployed"].queue_urls[resources.STORE_WEBHOOKS_DLQ.logical_name]
    return (
        aws["sqs"]
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )


def item(aws: dict[str, Any], table: str, **key: str) -> dict[str, Any] | None:
    from engagement.adapters.store.dynamo import from_item

    found = aws["dynamodb"].get_item(TableName=aws["deployed"].tables[table],
                                     Key={k: {"S": v} for k, v in key.items()}).get("Item")  # fmt: skip
    return from_item(found) if found else None


def test_a_signed_order_is_answered_at_once_then_recorded_for_a_new_client(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    status, answer, _ = send(handlers, "orders/create", fixture("orders_create.json"), webhook_id="wh-1")

    assert (status, answer["status"]) == (200, "queued")
    assert item(aws, "orders", userId="shopify-7011223344556", orderId="5723981234567") is None  # not yet: queued
    assert handle_queued(aws, handlers) == {"handled": 1, "batchItemFailures": []}

    client = item(aws, "users", userId="shopify-7011223344556")
    assert client is not None
    assert (client["email"], client["name"], client["createdAt"]) == (
        "maya.chen@example.com", "Maya Chen", "2025-03-02T14:15:00.000Z")  # fmt: skip
    assert "optedOut" not in client  # subscribed to email marketing in Shopify
    assert (client["orderCount"], client["totalSpent"], client["lastOrderDate"]) == (
        1, Decimal("139.32"), "2026-11-27T19:02:10.000Z")  # fmt: skip
    order = item(aws, "orders", userId="shopify-7011223344556", orderId="5723981234567")
    assert order is not None
    assert (order["source"], order["amount"], order["currency"]) == ("shopify", Decimal("139.32"), "USD")
    assert [(line["productId"], line["quantity"], line["unitPrice"]) for line in order["lineItems"]] == [
        ("8100000001", 1, 79), ("8100000002", 2, 25)]  # fmt: skip
    # 129.00 of products and 10.32 of tax: accepted, flagged; neither product is in the catalog yet
    assert set(order["flags"]) == {"line_totals_disagree", "unknown_products"}


def test_an_order_for_a_known_address_goes_to_that_client_and_the_paid_topic_counts_it_once(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    from tests.support.events import client_values, to_image

    known = client_values("c-77", email="maya.chen@example.com", createdAt="2024-01-01T00:00:00.000Z",
                          orderCount=3, averageOrderValue=50)  # fmt: skip
    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(known))
    payload = fixture("orders_create.json")

    send(handlers, "orders/create", payload, webhook_id="wh-create")
    send(handlers, "orders/paid", payload, webhook_id="wh-paid")  # Shopify's second topic for the same order
    handle_queued(aws, handlers)

    client = item(aws, "users", userId="c-77")
    assert client is not None
    assert (client["orderCount"], client["totalSpent"]) == (4, Decimal("289.32"))  # 3 x 50, then this order once
    assert item(aws, "users", userId="shopify-7011223344556") is None


def test_forged_and_unsigned_webhooks_are_refused_and_nothing_is_queued(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    body = json.dumps(fixture("orders_create.json")).encode()
    tampered = body.replace(b'"139.32"', b'"1.00"')

    attempts = [
        send(handlers, "orders/create", body, webhook_id="f-1", signature=""),  # unsigned
        send(handlers, "orders/create", body, webhook_id="f-2", signature=signed(body, "another-shops-secret")),
        send(handlers, "orders/create", tampered, webhook_id="f-3", signature=signed(body)),  # body changed on the way
        send(handlers, "orders/create", body, webhook_id="f-4", signature="bm90IGEgc2lnbmF0dXJl"),
    ]

    assert [status for status, _, _ in attempts] == [401, 401, 401, 401]
    assert "X-Shopify-Hmac-Sha256" in attempts[0][1]["message"]
    assert handle_queued(aws, handlers)["handled"] == 0


def test_a_replayed_webhook_is_answered_as_a_duplicate_and_changes_nothing(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    payload = fixture("orders_create.json")
    send(handlers, "orders/create", payload, webhook_id="wh-9")
    handle_queued(aws, handlers)

    status, answer, _ = send(handlers, "orders/create", payload, webhook_id="wh-9")  # a retry, or a replay

    assert (status, answer["status"]) == (200, "duplicate")
    assert handle_queued(aws, handlers)["handled"] == 0
    client = item(aws, "users", userId="shopify-7011223344556")
    assert client is not None
    assert client["orderCount"] == 1


def test_the_same_webhook_queued_twice_before_it_was_handled_is_handled_once(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    payload = fixture("orders_create.json")
    send(handlers, "orders/create", payload, webhook_id="wh-race")
    send(handlers, "orders/create", payload, webhook_id="wh-race")  # Shopify retried before we answered

    assert handle_queued(aws, handlers)["handled"] == 2
    client = item(aws, "users", userId="shopify-7011223344556")
    assert client is not None
    assert client["orderCount"] == 1


def test_products_are_stored_from_their_webhooks_and_an_older_update_changes_nothing(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    created = fixture("products_create.json")
    older = {**created, "title": "Linen trousers (old)", "updated_at": "2026-10-01T00:00:00-05:00"}

    send(handlers, "products/create", created, webhook_id="p-1")
    send(handlers, "products/update", older, webhook_id="p-2")  # arrives late
    handle_queued(aws, handlers)

    product = item(aws, "products", productId="8100000001")
    assert product is not None
    assert (product["title"], product["url"], product["price"], product["inStock"], product["category"]) == (
        "Linen trousers", "https://shop.example.com/products/linen-trousers", 79, True, "pants")  # fmt: skip
    assert product["imageUrl"].startswith("https://cdn.shopify.com/")


def test_an_unknown_topic_is_acknowledged_and_a_payload_we_cannot_use_is_dead_lettered_with_its_reason(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    ignored = send(handlers, "customers/create", {"id": 1}, webhook_id="x-1")
    broken = {**fixture("orders_create.json"), "total_price": "-5.00"}
    guest = {**fixture("orders_create.json"), "id": 99, "customer": None, "email": None, "contact_email": None}
    queued = [send(handlers, "orders/create", payload, webhook_id=f"x-{n}")[0] for n, payload in
              ((2, broken), (3, guest), (4, b"{not json"))]  # fmt: skip

    assert (ignored[0], ignored[1]["status"]) == (200, "ignored")
    assert queued == [200, 200, 200]
    assert handle_queued(aws, handlers) == {"handled": 3, "batchItemFailures": []}  # none retried: none ever could
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead_letters(aws))
    assert len(reasons) == 3
    assert any("amount" in reason and "negative" in reason for reason in reasons)
    assert any("no customer's email address" in reason for reason in reasons)
    assert any("not JSON" in reason for reason in reasons)


def test_without_a_secret_the_webhook_is_unavailable_not_open(load_handler: Any, aws: dict[str, Any]) -> None:
    api = load_handler("api", SHOPIFY_WEBHOOK_SECRET="unset")  # Terraform's placeholder until the secret is put
    body = json.dumps(fixture("orders_create.json")).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "n-1",
               "X-Shopify-Hmac-Sha256": signed(body, "unset")}  # fmt: skip
    status, answer, _ = api_request(api, "POST", "/webhooks/shopify", body, token=None, headers=headers)
    assert status == 503
    assert "secret" in answer["message"]


def test_a_refused_order_adds_no_client_and_an_unsubscribed_customer_is_opted_out_here_too(
    handlers: dict[str, ModuleType], aws: dict[str, Any]
) -> None:
    from tests.support.events import client_values, to_image

    in_euros = {**fixture("orders_create.json"), "currency": "EUR"}  # the shop sells in USD
    send(handlers, "orders/create", in_euros, webhook_id="eur-1")
    known = client_values("c-5", email="maya.chen@example.com", createdAt="2024-01-01T00:00:00.000Z")
    withdrawn = {**fixture("orders_create.json"), "id": 5723981234999}
    withdrawn["customer"] = {**withdrawn["customer"], "email_marketing_consent": {"state": "unsubscribed"}}

    handle_queued(aws, handlers)
    assert item(aws, "users", userId="shopify-7011223344556") is None  # refused before any client was added
    assert "currency: the shop's currency is USD" in dead_letters(aws)[0]["MessageAttributes"]["reason"]["StringValue"]

    aws["dynamodb"].put_item(TableName=aws["deployed"].tables["users"], Item=to_image(known))
    send(handlers, "orders/create", withdrawn, webhook_id="unsub-1")
    handle_queued(aws, handlers)
    client = item(aws, "users", userId="c-5")
    assert client is not None
    assert client["optedOut"] is True  # unsubscribed in the store: no win-back email from us either
    assert client["orderCount"] == known["orderCount"] + 1
