"""Lambda: SQS engagement events → eligibility decision → win-back draft (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.clock import SystemClock
from engagement.config import EmailProcessorConfig
from engagement.messaging import DeadLetterQueue
from engagement.observability import logger, metrics, tracer
from engagement.store import DecisionRepository, EmailRepository, UserRepository
from engagement.winback import WinbackService
from engagement.writer import TemplateWriter

config = EmailProcessorConfig.from_env()
service = WinbackService(
    users=UserRepository(config.users_table),
    emails=EmailRepository(config.emails_table),
    decisions=DecisionRepository(config.decisions_table),
    writer=TemplateWriter(shop_url=config.shop_url, brand_name=config.brand_name),
    brand=config.brand,
    rules=config.rules,
    dead_letters=DeadLetterQueue(config.dead_letter_queue_url, source="email_processor"),
    clock=SystemClock(),
)


def record_handler(record: SQSRecord) -> None:
    service.handle_message(record.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor))
