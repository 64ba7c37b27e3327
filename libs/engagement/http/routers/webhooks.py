"""/webhooks/shopify: a store's webhooks. No bearer token: the store signs each body with the shared secret."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from engagement.errors import InvalidRecord
from engagement.http.context import ApiServices
from engagement.http.errors import error_response
from engagement.http.schemas import ERRORS, ErrorBody, WebhookReceipt
from engagement.services.store_webhooks import ForgedWebhook, WebhookNotConfigured

JSON = "application/json"
ANSWERS: dict[int, Any] = {
    200: {"description": "Queued, a duplicate, or a topic we do not take",
          "content": {JSON: {"model": WebhookReceipt}}},
    **{code: {"description": meaning, "content": {JSON: {"model": ErrorBody}}}
       for code, meaning in ((400, "A header is missing or the body is too large"),
                             (401, "The signature does not match the body"), (422, ERRORS[422]),
                             (503, "No webhook secret is configured, or the queue is unavailable"))},
}  # fmt: skip


def router(api: ApiServices) -> Router:
    routes = Router()

    @routes.post("/webhooks/shopify", responses=ANSWERS)
    def shopify() -> Response[str]:
        """Shopify's orders/create, orders/paid, products/create and products/update webhooks, verified by
        X-Shopify-Hmac-Sha256 and deduplicated by X-Shopify-Webhook-Id, then handled from a queue."""
        event = routes.current_event
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        try:
            receipt = api.webhooks.receive(
                body=body,
                signature=headers.get("x-shopify-hmac-sha256"),
                topic=headers.get("x-shopify-topic"),
                webhook_id=headers.get("x-shopify-webhook-id"),
                shop=headers.get("x-shopify-shop-domain"),
            )
        except WebhookNotConfigured as missing:
            return error_response(503, str(missing))
        except ForgedWebhook as forged:
            return error_response(401, str(forged))
        except InvalidRecord as invalid:
            return error_response(400, invalid.reason)
        body_out = {"status": receipt.status, "detail": receipt.detail}
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=json.dumps(body_out))

    return routes
