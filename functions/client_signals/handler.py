"""Lambda: client changes that matter after the fact (orders, opt-outs, deletions) → conversions, cancellations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.batch import at_the_edge, process_sqs
from engagement.config import ClientSignalsConfig
from engagement.domain.events import decode_event
from engagement.observability import logger, metrics, tracer

config = ClientSignalsConfig.from_env()
services = bootstrap.client_signals(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    record_handler = at_the_edge(decode_event, lambda signal, _: services.service.handle_event(signal),
                                 dead_letters=services.dead_letters, clock=services.clock)  # fmt: skip
    return process_sqs(event, record_handler)
