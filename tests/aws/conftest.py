"""make test-aws: these tests create real AWS resources (and destroy them). They need credentials, terraform and
the network; the default `make test` never collects them."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        identity = boto3.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        pytest.exit(f"make test-aws needs AWS credentials: {exc}", returncode=2)
    print(f"\ntesting against account {identity['Account']} as {identity['Arn']}")
