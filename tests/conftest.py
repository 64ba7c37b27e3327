"""Shared test set-up: no real AWS, ever, and handlers imported fresh inside moto."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests check behaviour, never speed: on a busy 2-core machine, timing checks would only make them flaky.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")

# Before anything imports boto3: fake credentials, one region, and nothing that points at a live endpoint
# (except for `make test-aws`, which sets REAL_AWS_TESTS and needs the operator's real credentials).
if not os.environ.get("REAL_AWS_TESTS"):
    for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "API_TOKEN", "OPENROUTER_API_KEY"):
        os.environ.pop(_name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ClientEngagementTests",
            "POWERTOOLS_SERVICE_NAME": "tests",
        }
    )


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """moto in-process, with the resources the local mode (and Terraform) create; yields clients + names."""
    import boto3
    from moto import mock_aws

    from engagement.adapters import aws as engagement_aws
    from localmode import emulator_dynamodb, emulator_fidelity
    from stack import resources

    emulator_dynamodb.install()  # as in the local mode: each request atomic, as DynamoDB applies it
    emulator_fidelity.install()  # and answering as AWS does where moto differs
    engagement_aws.reset_clients()
    with mock_aws():
        clients = {name: boto3.client(name) for name in resources.SERVICES}
        deployed = resources.create_all(clients, endpoint_url="")
        yield {"clients": clients, "deployed": deployed, **clients}
    engagement_aws.reset_clients()


@pytest.fixture
def load_handler(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Import functions/<name>/handler.py fresh (its cold start) with the environment Terraform gives it."""
    from stack import resources
    from tests.support import handlers

    def load(name: str, *, clock: Any = None, clients: Any = None, **extra_env: str) -> ModuleType:
        """clock, clients: built into the handler's services (tests/support/handlers.py's rebuild)."""
        function = next(f for f in resources.FUNCTIONS if f.logical_name == name)
        environment = resources.function_environment(function, aws["deployed"]) | resources.secrets_in_environment(
            function, api_token=handlers.API_TOKEN, unsubscribe_secret=handlers.UNSUBSCRIBE_SECRET,
            public_base_url="https://api.example.com",
        )  # fmt: skip
        for key, value in {**environment, **extra_env}.items():
            monkeypatch.setenv(key, value)
        module_name = f"functions.{name}.handler"
        sys.modules.pop(module_name, None)
        module = importlib.import_module(module_name)
        if clock is not None or clients is not None:
            from tests.support.handlers import rebuild

            rebuild(module, **{k: v for k, v in {"clock": clock, "clients": clients}.items() if v is not None})
        return module

    return load


@pytest.fixture
def lambda_context() -> Any:
    from tests.support.handlers import LambdaContext

    return LambdaContext()
