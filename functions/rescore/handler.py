"""Lambda: the daily rescoring sweep. EventBridge Scheduler's call starts a run (one task per scan segment); the
segment queue's batches run the segments, each checkpointing itself onto the queue when time runs low."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import bootstrap
from engagement.batch import at_the_edge, process_sqs
from engagement.clock import time_left_in
from engagement.config import RescoreConfig
from engagement.domain.sweep import decode_task
from engagement.observability import logger, metrics, tracer

config = RescoreConfig.from_env()
services = bootstrap.rescore(config)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # no client data in traces
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:  # the schedule
        return services.sweep.start(time_left_in(context))
    record_handler = at_the_edge(
        decode_task, lambda task, _: services.sweep.run_segment(task, time_left=time_left_in(context)),
        dead_letters=services.dead_letters, clock=services.clock, metric="SegmentTasksDeadLettered",
    )  # fmt: skip
    return process_sqs(event, record_handler)
