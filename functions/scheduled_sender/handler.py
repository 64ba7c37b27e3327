"""Lambda (EventBridge Scheduler, every few minutes): send the scheduled emails that are due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.clock import time_left_in
from engagement.config import ScheduledSenderConfig
from engagement.observability import logger, metrics, tracer

config = ScheduledSenderConfig.from_env()
services = bootstrap.scheduled_sender(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    handled = services.delivery.send_due(time_left=time_left_in(context))
    outcome: dict[str, int] = {}
    for email in handled:
        outcome[email.status.value] = outcome.get(email.status.value, 0) + 1
    logger.info("scheduled sends", extra={"outcome": outcome})
    return {"handled": len(handled), "outcome": outcome}
