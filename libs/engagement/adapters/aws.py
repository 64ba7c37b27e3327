"""boto3 clients, created once per process with timeouts and the SDK's standard retry mode.

The endpoint comes from the environment (AWS_ENDPOINT_URL), so the same code talks to AWS or to the local
emulator. boto3 is imported here and in the adapters only, never by pure logic.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

if TYPE_CHECKING:  # the types-boto3 stubs: a development dependency, never shipped
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_sesv2 import SESV2Client
    from types_boto3_sns import SNSClient
    from types_boto3_sqs import SQSClient
    from types_boto3_ssm import SSMClient

Service = Literal["cloudwatch", "dynamodb", "sesv2", "sns", "sqs", "ssm"]

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


@overload
def client(service: Literal["cloudwatch"], *, attempts: int = 3) -> CloudWatchClient: ...
@overload
def client(service: Literal["dynamodb"], *, attempts: int = 3) -> DynamoDBClient: ...
@overload
def client(service: Literal["sesv2"], *, attempts: int = 3) -> SESV2Client: ...
@overload
def client(service: Literal["sns"], *, attempts: int = 3) -> SNSClient: ...
@overload
def client(service: Literal["sqs"], *, attempts: int = 3) -> SQSClient: ...
@overload
def client(service: Literal["ssm"], *, attempts: int = 3) -> SSMClient: ...
def client(service: Service, *, attempts: int = 3) -> Any:
    """attempts=1 for calls that must not be repeated blindly (a send whose answer was lost may have happened).

    One at a time: rarely used clients are made at first use, which may be in several threads at once, and boto3's
    default session is not safe to make clients from concurrently."""
    with _MAKING:
        return _client(service, attempts)


_MAKING = threading.Lock()


@cache
def _client(service: Service, attempts: int) -> Any:
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


def reset_clients() -> None:
    """Forget the clients made so far (a test that moves to a new emulator, or changes credentials)."""
    _client.cache_clear()
