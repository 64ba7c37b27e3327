"""Lambda: SES bounce and complaint notifications (SNS → SQS) → the suppression list (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.batch import process_sqs_bodies
from engagement.config import SesFeedbackConfig
from engagement.observability import logger, metrics, tracer

config = SesFeedbackConfig.from_env()
services = bootstrap.ses_feedback(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_sqs_bodies(event, services.service.handle_message)
