"""Lambda: client changes that matter after the fact (orders, opt-outs, deletions) → conversions, cancellations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.batch import process_sqs_bodies
from engagement.config import ClientSignalsConfig
from engagement.observability import logger, metrics, tracer

config = ClientSignalsConfig.from_env()
services = bootstrap.client_signals(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_sqs_bodies(event, services.service.handle_message)
