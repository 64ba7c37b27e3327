"""Lambda: the daily rescoring sweep. EventBridge Scheduler's call starts a run (one task per scan segment); the
segment queue's batches run the segments, each checkpointing itself onto the queue when time runs low."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.adapters.messaging import DeadLetterQueue, EventPublisher
from engagement.adapters.segment_queue import SegmentQueue
from engagement.adapters.store.users import UserRepository
from engagement.clock import clock_from_environment, time_left_in
from engagement.config import RescoreConfig
from engagement.domain.sweep import RescoreRules, decode_task
from engagement.errors import InvalidRecord
from engagement.observability import logger, metrics, tracer
from engagement.services.rescore import RescoreSweep

config = RescoreConfig.from_env()
clock = clock_from_environment()
sweep = RescoreSweep(
    users=UserRepository(config.users_table),
    publisher=EventPublisher(config.events_topic_arn),
    tasks=SegmentQueue(config.segment_queue_url),
    rules=RescoreRules(cooldown=timedelta(days=config.email_cooldown_days), max_attempts=config.winback_attempts),
    clock=clock,
    total_segments=config.total_segments,
    page_size=config.page_size,
)
dead_letters = DeadLetterQueue(config.dead_letter_queue_url, source="rescore")


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:  # the schedule
        return sweep.start()

    def record_handler(record: SQSRecord) -> None:
        try:
            task = decode_task(record.body)
        except InvalidRecord as invalid:
            logger.error("segment task dead-lettered", extra={"reason": invalid.reason})
            dead_letters.send(record.body, reason=invalid.reason, field=invalid.field, failed_at=clock.now())
            return
        sweep.run_segment(task, time_left=time_left_in(context))

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor))
