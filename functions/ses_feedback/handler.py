"""Lambda: SES bounce and complaint notifications (SNS → SQS) → the suppression list (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.adapters.messaging import DeadLetterQueue
from engagement.adapters.store import SuppressionRepository
from engagement.batch import process_sqs_bodies
from engagement.clock import clock_from_environment
from engagement.config import SesFeedbackConfig
from engagement.observability import logger, metrics, tracer
from engagement.services.ses_feedback import SesFeedbackService

config = SesFeedbackConfig.from_env()
service = SesFeedbackService(
    SuppressionRepository(config.suppressions_table),
    DeadLetterQueue(config.dead_letter_queue_url, source="ses_feedback"),
    clock_from_environment(),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_sqs_bodies(event, service.handle_message)
