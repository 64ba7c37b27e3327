"""A store's webhook as it waits in the queue: what the store sent (the raw body, verified), and what about it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engagement.domain.models import CamelModel, Instant

MAX_WEBHOOK_BYTES = 160 * 1024  # queued whole in one SQS message: 256 KiB with its envelope and JSON escaping


class StoreWebhook(CamelModel):
    store: Literal["shopify"] = "shopify"
    topic: str = Field(min_length=1, max_length=100)
    webhook_id: str = Field(min_length=1, max_length=200)
    shop_domain: str | None = Field(default=None, max_length=255)
    received_at: Instant
    payload: str = Field(max_length=MAX_WEBHOOK_BYTES, description="The body the store signed, as sent")
