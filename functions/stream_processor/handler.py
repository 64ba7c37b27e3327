"""Lambda: DynamoDB stream of the users table → score → engagement events on SNS (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.adapters.messaging import DeadLetterQueue, EventPublisher
from engagement.adapters.store.users import UserRepository
from engagement.clock import clock_from_environment
from engagement.config import StreamProcessorConfig
from engagement.domain.models import EngagementEvent
from engagement.observability import logger, metrics, tracer
from engagement.services.stream import StreamService

config = StreamProcessorConfig.from_env()
service = StreamService(
    users=UserRepository(config.users_table),
    publisher=EventPublisher(config.events_topic_arn),
    dead_letters=DeadLetterQueue(config.dead_letter_queue_url, source="stream_processor"),
    clock=clock_from_environment(),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    pending: list[tuple[DynamoDBRecord, EngagementEvent]] = []

    def record_handler(record: DynamoDBRecord) -> None:
        """Read one record; keep its event for publishing. Raises only for errors worth a retry."""
        engagement_event = service.interpret(record.raw_event)
        if engagement_event is not None:
            pending.append((record, engagement_event))

    with processor(records=event["Records"], handler=record_handler):
        processor.process()
        for record, error in service.publish(pending):  # ten events a PublishBatch call
            processor.failure_handler(record, (type(error), error, error.__traceback__))
    return dict(processor.response())
