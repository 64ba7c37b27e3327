"""Handlers' services built for a test: through the same bootstrap builders as in Lambda, with test parts."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from engagement import bootstrap


def rebuild(handler: ModuleType, **parts: Any) -> Any:
    """Rebuild a loaded handler's services with parts (clock=, clients=bootstrap.Clients(...), writer=, config=),
    as its cold start would have with them; returns the new services."""
    name = handler.__name__.split(".")[-2]
    config = parts.pop("config", handler.config)
    if name == "api":
        parts.setdefault("assets", handler.services.assets)
    handler.services = getattr(bootstrap, name)(config, **parts)
    handler.config = config
    return handler.services


UNSUBSCRIBE_SECRET = "test-unsubscribe-secret-0123456789"
API_TOKEN = "test-token-0123456789abcdef"


class LambdaContext:
    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb = 256
    aws_request_id = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "2026/11/28/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
