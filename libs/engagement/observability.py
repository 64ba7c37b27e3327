"""One Logger, Tracer and Metrics for every function.

The service name comes from POWERTOOLS_SERVICE_NAME (one per function) and the metrics namespace from
POWERTOOLS_METRICS_NAMESPACE. Every log line carries the correlation id: the engagement event's id, which is the
DynamoDB stream record's eventID and follows the client's change through SNS, SQS and onto the email.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice


def tracing_on() -> bool:
    """As powertools decides: in Lambda (not SAM's or Chalice's emulators) unless POWERTOOLS_TRACE_DISABLED says
    so. Terraform's `xray_tracing = false` sets it, with the functions' tracing mode PassThrough."""
    disabled = resolve_truthy_env_var_choice(env=os.environ.get("POWERTOOLS_TRACE_DISABLED", "false"))
    emulated = bool(os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not emulated and not disabled


class Untraced:
    """The Tracer's decorator when tracing is off: powertools' own disabled Tracer still imports the X-Ray SDK
    (about 290 ms of a cold start) only to switch it off."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **options: Any) -> Callable[..., Any]:
        """Tracer.capture_lambda_handler's signature; the handler is returned as it is."""
        if lambda_handler is not None:
            return lambda_handler  # type: ignore[no-any-return]
        return lambda handler: handler


logger = Logger()
tracer: Tracer | Untraced = Tracer() if tracing_on() else Untraced()
metrics = Metrics()
_metrics_lock = threading.Lock()  # the email processor writes the messages of a batch concurrently


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """Add to a metric of this invocation (flushed as EMF by @metrics.log_metrics); safe from any thread."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)
