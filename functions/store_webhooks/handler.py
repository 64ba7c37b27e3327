"""Lambda: a store's verified webhooks, from their queue → orders recorded, products stored."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.batch import at_the_edge, process_sqs
from engagement.config import StoreWebhooksConfig
from engagement.observability import logger, metrics, tracer
from engagement.services.store_webhooks import decode_webhook

config = StoreWebhooksConfig.from_env()
services = bootstrap.store_webhooks(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    record_handler = at_the_edge(decode_webhook, lambda webhook, _: services.service.handle(webhook),
                                 dead_letters=services.dead_letters, clock=services.clock,
                                 correlation_id=lambda webhook: webhook.webhook_id)  # fmt: skip
    return process_sqs(event, record_handler)
