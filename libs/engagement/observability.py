"""One Logger, Tracer and Metrics for every function.

The service name comes from POWERTOOLS_SERVICE_NAME (one per function) and the metrics namespace from
POWERTOOLS_METRICS_NAMESPACE. Every log line carries the correlation id: the engagement event's id, which is the
DynamoDB stream record's eventID and follows the client's change through SNS, SQS and onto the email.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
