"""Lambda: SQS engagement events → eligibility decision → win-back draft (partial batch responses)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.batch import ConcurrentBatchProcessor, at_the_edge, process_sqs
from engagement.config import EmailProcessorConfig
from engagement.domain.events import decode_event
from engagement.domain.models import EngagementEvent
from engagement.observability import logger, metrics, tracer

SAFETY_MARGIN_S = 5.0  # time kept back from the writer for the writes that follow it

config = EmailProcessorConfig.from_env()
services = bootstrap.email_processor(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S

    def handle(engagement_event: EngagementEvent, record: SQSRecord) -> None:
        last_receive = services.fallback_on_last_receive and (
            int(record.attributes.approximate_receive_count) >= services.max_receive_count
        )
        services.service.handle_event(engagement_event, last_receive=last_receive, deadline=deadline)

    record_handler = at_the_edge(decode_event, handle, dead_letters=services.dead_letters, clock=services.clock,
                                 correlation_id=lambda decoded: decoded.id)  # fmt: skip
    processor = ConcurrentBatchProcessor(event_type=EventType.SQS, max_workers=services.concurrency)
    return process_sqs(event, record_handler, processor)
