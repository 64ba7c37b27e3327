"""boto3 clients, created once per process with timeouts and the SDK's standard retry mode.

The endpoint comes from the environment (AWS_ENDPOINT_URL), so the same code talks to AWS or to the local
emulator. boto3 is imported here and in the adapters only, never by pure logic.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

# Errors that may go away if the same call is made again later.
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "KMSThrottlingException",
        "KMSInternalException",
    }
)


@cache
def client(service: str, *, attempts: int = 3) -> Any:
    """attempts=1 for calls that must not be repeated blindly (a send whose answer was lost may have happened)."""
    config = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": attempts})
    return boto3.client(service, config=config)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_transient(exc: Exception) -> bool:
    if isinstance(exc, ConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in _TRANSIENT_CODES or status >= 500
    return False
