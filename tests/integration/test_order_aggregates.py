"""Every client's aggregates equal those recomputed from their orders, however orders arrive: the API, a file's
import and the store's webhooks interleaved, the same order sent again through any of them, line items naming known
and unknown products (a property test)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.import_orders import OrderWriter, order_service
from scripts.importing import Row
from stack import resources
from tests.support.api import api_request
from tests.support.clock import FixedClock
from tests.support.events import batch, client_values, sqs_record, to_image
from tests.support.handlers import LambdaContext

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
SECRET = "shpss_property_test_secret_0123456789"
PRODUCTS = {"top-1": "tops", "top-2": "tops", "pan-1": "pants", "sho-1": "shoes"}

order_sent = st.fixed_dictionaries({
    "channel": st.sampled_from(["api", "import", "webhook"]),
    "client": st.integers(0, 2),
    "order": st.integers(0, 6),  # a small pool of ids: the same order is often sent again
    "cents": st.integers(0, 250_000),
    "days_ago": st.integers(0, 600),
    "lines": st.lists(st.tuples(st.sampled_from([*PRODUCTS, "gone-1"]), st.integers(1, 3)), max_size=3),
})  # fmt: skip


def _signed(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def test_aggregates_equal_those_recomputed_from_the_orders_after_every_channel_interleaves(
    aws: dict[str, Any], load_handler: Any
) -> None:
    from engagement.adapters.store.dynamo import from_item
    from engagement.adapters.store.orders import OrderRepository
    from engagement.domain.orders import aggregates_of, recompute

    clock = FixedClock(NOW)
    api = load_handler("api", clock=clock, SHOPIFY_WEBHOOK_SECRET=SECRET)
    worker = load_handler("store_webhooks", clock=clock)
    service = order_service(aws["dynamodb"], users=resources.USERS.name, orders=resources.ORDERS.name,
                            products=resources.PRODUCTS.name, currency="USD")  # fmt: skip
    for product_id, category in PRODUCTS.items():
        api_request(api, "PUT", f"/api/products/{product_id}", {"title": product_id, "category": category,
                    "url": f"https://shop.example.com/products/{product_id}", "price": 10})  # fmt: skip
    orders = OrderRepository(resources.ORDERS.name, aws["dynamodb"])

    @settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(order_sent, min_size=1, max_size=14))
    def interleaved(sent: list[dict[str, Any]]) -> None:
        run = uuid.uuid4().hex[:8]  # this example's own clients and orders
        clients = [f"{run}-c{n}" for n in range(3)]
        for user_id in clients:
            values = client_values(user_id, email=f"{user_id}@example.com", createdAt="2025-01-01T00:00:00.000Z",
                                   orderCount=0, averageOrderValue=0)  # fmt: skip
            values.pop("lastOrderDate", None)
            aws["dynamodb"].put_item(TableName=resources.USERS.name, Item=to_image(values))
        for line, order in enumerate(sent, 1):
            user_id = clients[order["client"]]
            at = NOW - timedelta(days=min(order["days_ago"], 690))
            lines = [{"productId": p, "quantity": q, "unitPrice": "10.00"} for p, q in order["lines"]]
            body = {"orderId": f"{run}-o{order['order']}", "orderedAt": at.isoformat(),
                    "amount": f"{order['cents'] / 100:.2f}", "lineItems": lines}  # fmt: skip
            if order["channel"] == "api":
                status = api_request(api, "POST", f"/api/users/{user_id}/orders", body)[0]
                assert status in (200, 201)
            elif order["channel"] == "import":
                _, problems = OrderWriter(service, "jsonl", 2)([[Row(line, {"userId": user_id, **body})]])  # a file
                assert problems == []
            else:
                send_webhook(api, worker, aws, user_id, body)
        for user_id in clients:
            item = from_item(aws["dynamodb"].get_item(TableName=resources.USERS.name,
                                                      Key={"userId": {"S": user_id}})["Item"])  # fmt: skip
            recorded = list(orders.all_for_user(user_id))
            assert aggregates_of(item) == recompute(recorded, PRODUCTS), user_id
            assert item["orderCount"] == len({o.order_id for o in recorded})

    interleaved()


def send_webhook(api: ModuleType, worker: ModuleType, aws: dict[str, Any], user_id: str, body: dict[str, Any]) -> None:
    """The same order as Shopify's orders/create, for the client with that address; then handled from the queue."""
    payload = {
        "id": body["orderId"], "processed_at": body["orderedAt"], "total_price": body["amount"], "currency": "USD",
        "test": False, "customer": {"id": 1, "email": f"{user_id}@example.com", "first_name": "Pat"},
        "line_items": [{"product_id": line["productId"], "quantity": line["quantity"], "price": line["unitPrice"],
                        "title": line["productId"]} for line in body["lineItems"]],
    }  # fmt: skip
    raw = json.dumps(payload).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": str(uuid.uuid4()),
               "X-Shopify-Hmac-Sha256": _signed(raw)}  # fmt: skip
    assert api_request(api, "POST", "/webhooks/shopify", raw, token=None, headers=headers)[0] == 200
    url = aws["deployed"].queue_urls[resources.STORE_WEBHOOKS.logical_name]
    messages = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    for message in messages:
        aws["sqs"].delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    answer = worker.lambda_handler(batch(*(sqs_record(m["Body"]) for m in messages)), LambdaContext())
    assert answer == {"batchItemFailures": []}
