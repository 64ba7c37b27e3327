"""Lambda: the daily rescoring sweep. EventBridge Scheduler's call starts a run (one task per scan segment); the
segment queue's batches run the segments, each checkpointing itself onto the queue when time runs low."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.clock import time_left_in
from engagement.config import RescoreConfig
from engagement.domain.sweep import decode_task
from engagement.errors import InvalidRecord
from engagement.observability import logger, metrics, tracer

config = RescoreConfig.from_env()
services = bootstrap.rescore(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:  # the schedule
        return services.sweep.start()

    def record_handler(record: SQSRecord) -> None:
        try:
            task = decode_task(record.body)
        except InvalidRecord as invalid:
            logger.error("segment task dead-lettered", extra={"reason": invalid.reason})
            services.dead_letters.send(
                record.body, reason=invalid.reason, field=invalid.field, failed_at=services.clock.now()
            )
            return
        services.sweep.run_segment(task, time_left=time_left_in(context))

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor))
