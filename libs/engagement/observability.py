"""One Logger, Tracer and Metrics for every function.

The service name comes from POWERTOOLS_SERVICE_NAME (one per function) and the metrics namespace from
POWERTOOLS_METRICS_NAMESPACE. Every log line carries the correlation id: the engagement event's id, which is the
DynamoDB stream record's eventID and follows the client's change through SNS, SQS and onto the email.
"""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
_metrics_lock = threading.Lock()  # the email processor writes the messages of a batch concurrently


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """Add to a metric of this invocation (flushed as EMF by @metrics.log_metrics); safe from any thread."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)
