"""Lambda: DynamoDB stream of the users table → score → engagement events on SNS (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.config import StreamProcessorConfig
from engagement.domain.models import EngagementEvent
from engagement.observability import logger, metrics, tracer

config = StreamProcessorConfig.from_env()
services = bootstrap.stream_processor(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    pending: list[tuple[DynamoDBRecord, EngagementEvent]] = []

    def record_handler(record: DynamoDBRecord) -> None:
        """Read one record; keep its event for publishing. Raises only for errors worth a retry."""
        engagement_event = services.service.interpret(record.raw_event)
        if engagement_event is not None:
            pending.append((record, engagement_event))

    with processor(records=event["Records"], handler=record_handler):
        processor.process()
        for record, error in services.service.publish(pending):  # ten events a PublishBatch call
            processor.failure_handler(record, (type(error), error, error.__traceback__))
    return dict(processor.response())
