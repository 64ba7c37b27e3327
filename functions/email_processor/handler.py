"""Lambda: SQS engagement events → eligibility decision → win-back draft (partial batch responses)."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.adapters.messaging import DeadLetterQueue
from engagement.adapters.store import DecisionRepository, EmailRepository, SuppressionRepository, UserRepository
from engagement.batch import ConcurrentBatchProcessor
from engagement.clock import clock_from_environment
from engagement.config import EmailProcessorConfig
from engagement.observability import logger, metrics, tracer
from engagement.services.winback import WinbackService
from engagement.writer import EmailWriter, TemplateWriter

SAFETY_MARGIN_S = 5.0  # time kept back from the writer for the writes that follow it

config = EmailProcessorConfig.from_env()
writer: EmailWriter = TemplateWriter(shop_url=config.shop_url, brand_name=config.brand_name)
if config.llm_configured:
    from engagement.adapters.secrets import SecretSource
    from engagement.writer.llm import LLMSettings, LLMWriter  # imports openai: only when used

    writer = LLMWriter(
        LLMSettings(
            base_url=config.llm_base_url,
            model=config.llm_model,
            timeout_s=config.llm_timeout_s,
            max_retries=config.llm_max_retries,
            brand_name=config.brand_name,
            shop_url=config.shop_url,
            policy=config.guardrails,
            prices=config.llm_prices,
        ),
        SecretSource(
            config.openrouter_api_key.get_secret_value() if config.openrouter_api_key else None,
            config.openrouter_api_key_parameter,
        ),
        fallback=writer,
    )
clock = clock_from_environment()
users = UserRepository(config.users_table)
emails = EmailRepository(config.emails_table)
decisions = DecisionRepository(config.decisions_table)
suppressions = SuppressionRepository(config.suppressions_table)
service = WinbackService(
    users=users,
    emails=emails,
    decisions=decisions,
    writer=writer,
    brand=config.brand,
    rules=config.rules,
    dead_letters=DeadLetterQueue(config.dead_letter_queue_url, source="email_processor"),
    clock=clock,
    suppressions=suppressions,
    delivery=bootstrap.delivery(
        config, users=users, emails=emails, decisions=decisions, suppressions=suppressions, clock=clock
    )
    if config.delivery_mode == "auto"
    else None,
)


def record_handler(record: SQSRecord, deadline: float) -> None:
    last_receive = config.fallback_on_last_receive and (
        int(record.attributes.approximate_receive_count) >= config.max_receive_count
    )
    service.handle_message(record.body, last_receive=last_receive, deadline=deadline)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S
    processor = ConcurrentBatchProcessor(event_type=EventType.SQS, max_workers=config.llm_concurrency)
    handler = partial(record_handler, deadline=deadline)
    return dict(process_partial_response(event=event, record_handler=handler, processor=processor))
