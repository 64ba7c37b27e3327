"""Lambda: client changes that matter after the fact (orders, opt-outs, deletions) → conversions, cancellations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.adapters.messaging import DeadLetterQueue
from engagement.adapters.store import DecisionRepository, EmailRepository
from engagement.batch import process_sqs_bodies
from engagement.clock import clock_from_environment
from engagement.config import ClientSignalsConfig
from engagement.observability import logger, metrics, tracer
from engagement.services.conversion import Conversions
from engagement.services.signals import SignalsService

config = ClientSignalsConfig.from_env()
emails = EmailRepository(config.emails_table)
service = SignalsService(
    emails=emails,
    conversions=Conversions(
        emails=emails,
        decisions=DecisionRepository(config.decisions_table),
        window=timedelta(days=config.conversion_window_days),
    ),
    dead_letters=DeadLetterQueue(config.dead_letter_queue_url, source="client_signals"),
    clock=clock_from_environment(),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_sqs_bodies(event, service.handle_message)
