"""Lambda: SES bounce and complaint notifications (SNS → SQS) → the suppression list (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.batch import at_the_edge, process_sqs
from engagement.config import SesFeedbackConfig
from engagement.observability import logger, metrics, tracer
from engagement.services.ses_feedback import parse_notification

config = SesFeedbackConfig.from_env()
services = bootstrap.ses_feedback(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    record_handler = at_the_edge(
        lambda body: parse_notification(body, services.clock.now()),
        lambda feedback, _: services.service.handle(feedback),
        dead_letters=services.dead_letters, clock=services.clock, metric="NotificationsDeadLettered",
    )  # fmt: skip
    return process_sqs(event, record_handler)
