"""A store's webhooks (Shopify's orders/create, orders/paid, products/create, products/update): received by the API,
handled by a worker from a queue.

Receiving is quick, so the store hears back within its limit (Shopify: 5 seconds): the signature is checked
(HMAC-SHA256 of the raw body with the shared secret), a webhook already handled is answered as a duplicate, and the
rest is queued as sent. Handling records the order (finding the client by address, or adding them) or stores the
product, then marks the webhook handled. A payload that can never be handled goes to the dead-letter queue with the
reason; a test order is acknowledged and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from engagement.adapters.store.users import UserRepository
from engagement.adapters.store.webhooks import WebhookRepository
from engagement.adapters.webhook_inbox import WebhookInbox
from engagement.clock import Clock, format_instant, parse_instant
from engagement.domain import jsontext
from engagement.domain.catalog import ProductRefused
from engagement.domain.models import normalise_address
from engagement.domain.orders import OrderRefused, OrderSource, check_order
from engagement.domain.shopify import (
    ORDER_TOPICS,
    PRODUCT_TOPICS,
    TOPICS,
    NotForUs,
    ShopifyCustomer,
    order_from_webhook,
    product_from_webhook,
    signature_matches,
)
from engagement.domain.webhooks import MAX_WEBHOOK_BYTES, StoreWebhook
from engagement.errors import Conflict, InvalidRecord, NotFound, TransientFailure
from engagement.observability import count, logger
from engagement.services.catalog import CatalogService
from engagement.services.orders import OrderService, Outcome


class WebhookNotConfigured(Exception):
    """No shared secret is set, so no webhook can be verified."""


class ForgedWebhook(Exception):
    """The signature is missing or does not match the body."""


@dataclass(frozen=True)
class Receipt:
    status: str  # queued | duplicate | ignored
    detail: str


class WebhookReceiver:
    """The API's half: verify, deduplicate, queue."""

    def __init__(
        self,
        *,
        secret: Callable[[], str | None],
        webhooks: WebhookRepository,
        inbox: WebhookInbox,
        clock: Clock,
    ) -> None:
        self._secret = secret
        self.webhooks = webhooks
        self.inbox = inbox
        self.clock = clock

    def receive(
        self, *, body: bytes, signature: str | None, topic: str | None, webhook_id: str | None, shop: str | None
    ) -> Receipt:
        secret = self._secret()
        if secret is None:
            raise WebhookNotConfigured("no webhook secret is set: put the store's signing secret in the parameter")
        if not signature_matches(body, signature, [secret]):
            count("WebhooksRefused")
            raise ForgedWebhook("X-Shopify-Hmac-Sha256 is missing or is not the body's signature under our secret")
        if not topic or topic not in TOPICS:
            return Receipt("ignored", f"topic {topic!r} is not one we take ({', '.join(sorted(TOPICS))})")
        if not webhook_id:
            raise InvalidRecord("X-Shopify-Webhook-Id is missing", field="X-Shopify-Webhook-Id")
        if len(body) > MAX_WEBHOOK_BYTES:
            raise InvalidRecord(f"the body is larger than {MAX_WEBHOOK_BYTES} bytes", field="body")
        if self.webhooks.handled(webhook_id):
            return Receipt("duplicate", f"webhook {webhook_id} was handled before")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRecord("the body is not UTF-8 JSON", field="body") from None
        self.inbox.put(StoreWebhook(topic=topic, webhook_id=webhook_id, shop_domain=shop,
                                    received_at=self.clock.now(), payload=text))  # fmt: skip
        count("WebhooksQueued")
        return Receipt("queued", f"webhook {webhook_id} ({topic}) is queued")


def decode_webhook(body: str) -> StoreWebhook:
    try:
        return StoreWebhook.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidRecord.from_validation("queued webhook", exc) from None


class StoreWebhookService:
    """The worker's half: record what a webhook says, once."""

    def __init__(
        self,
        *,
        webhooks: WebhookRepository,
        users: UserRepository,
        orders: OrderService,
        catalog: CatalogService,
        shop_url: str,
        clock: Clock,
    ) -> None:
        self.webhooks = webhooks
        self.users = users
        self.orders = orders
        self.catalog = catalog
        self.shop_url = shop_url
        self.clock = clock

    def handle(self, webhook: StoreWebhook) -> str:
        """What the webhook did ("recorded order …", "duplicate", …); InvalidRecord when it never can."""
        if self.webhooks.handled(webhook.webhook_id):
            return "duplicate"
        try:
            payload = jsontext.loads(webhook.payload)
        except ValueError as exc:
            raise InvalidRecord(f"the webhook's body is not JSON: {exc}", field="payload") from None
        if not isinstance(payload, dict):
            raise InvalidRecord("the webhook's body is not a JSON object", field="payload")
        if webhook.topic in ORDER_TOPICS:
            outcome = self._order(payload)
        elif webhook.topic in PRODUCT_TOPICS:
            outcome = self._product(payload)
        else:
            raise InvalidRecord(f"topic {webhook.topic!r} is not one we take", field="topic")
        self.webhooks.mark_handled(webhook.webhook_id, topic=webhook.topic, outcome=outcome, at=self.clock.now())
        logger.info("webhook handled", extra={"webhookId": webhook.webhook_id, "topic": webhook.topic,
                                              "outcome": outcome})  # fmt: skip
        return outcome

    def _order(self, payload: dict[str, Any]) -> str:
        try:
            placed = order_from_webhook(payload)
        except NotForUs as skipped:
            if "test order" in str(skipped):
                return f"skipped: {skipped}"
            raise InvalidRecord(str(skipped), field="customer") from None
        except ValidationError as exc:
            raise InvalidRecord.from_validation("Shopify order", exc) from None
        except ValueError as exc:
            raise InvalidRecord(str(exc), field="id") from None
        try:  # what does not depend on the client, before a new client is added for an order that is refused
            check_order(placed.order, now=self.clock.now(), client_since=None, shop_currency=self.orders.shop_currency)
        except OrderRefused as refused:
            raise InvalidRecord(f"{refused.field}: {refused.message}", field=refused.field) from None
        user_id = self._client_for(placed.customer, placed.order.ordered_at or self.clock.now())
        try:
            recorded = self.orders.record(user_id, [placed.order], OrderSource.SHOPIFY)
        except NotFound:
            raise TransientFailure(f"client {user_id} was removed while its order was recorded") from None
        except Conflict as conflict:
            raise TransientFailure(str(conflict)) from conflict
        result = recorded.results[0]
        if result.outcome is Outcome.REFUSED:
            raise InvalidRecord(f"{result.field}: {result.reason}", field=result.field)
        return f"{result.outcome.value} order {result.order_id} of {user_id}"

    def _client_for(self, customer: ShopifyCustomer, ordered_at: datetime) -> str:
        """The client with the customer's address, or a new one (consenting only if the customer subscribed). A
        customer who unsubscribed in the store is opted out here too (never opted back in: that is theirs to do)."""
        try:
            address = normalise_address(customer.email)
        except ValueError as exc:
            raise InvalidRecord(f"customer.email: {exc}", field="customer.email") from None
        now = self.clock.now()
        found = self.users.with_email(address)
        if found:
            user_id = sorted(found)[0]
            if customer.withdrew:
                self.users.opt_out(user_id, now)  # a fact: the stream cancels their pending drafts
            return user_id
        try:
            joined = min(parse_instant(customer.created_at), ordered_at) if customer.created_at else ordered_at
        except ValueError:
            joined = ordered_at
        user_id = f"shopify-{customer.customer_id}"
        item: dict[str, Any] = {
            "userId": user_id, "email": address, "name": customer.name, "createdAt": format_instant(joined),
            "updatedAt": format_instant(now), "orderCount": 0, "averageOrderValue": 0, "source": "shopify",
        }  # fmt: skip
        if not customer.subscribed:
            item |= {"optedOut": True, "optedOutAt": format_instant(now)}  # no consent to marketing email
        if self.users.create(item):
            count("ClientsAddedFromStore")
        return user_id

    def _product(self, payload: dict[str, Any]) -> str:
        try:
            product_id, product = product_from_webhook(payload, self.shop_url)
            stored = self.catalog.put(product_id, product)
        except ValidationError as exc:
            raise InvalidRecord.from_validation("Shopify product", exc) from None
        except ProductRefused as refused:
            raise InvalidRecord(f"{refused.field}: {refused.message}", field=refused.field) from None
        except ValueError as exc:
            raise InvalidRecord(str(exc), field="payload") from None
        return f"{'stored' if stored.stored else 'kept the newer'} product {product_id}"
