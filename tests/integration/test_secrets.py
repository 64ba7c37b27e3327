"""Secrets read from SSM SecureStrings (moto): one fetch per cold start, however many threads ask at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.ssm import SSMProvider

from engagement.adapters.secrets import SecretSource

PARAMETER = "/client-engagement-test/openrouter-api-key"


@pytest.fixture
def fetches(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every read that reached SSM, each taking as long as a cold start's first call (the cache is empty)."""
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="sk-or-v1-secret", Type="SecureString")
    parameters.clear_caches()
    fetched: list[str] = []
    lock = threading.Lock()
    read = SSMProvider._get

    def slow_read(self: SSMProvider, name: str, **options: Any) -> Any:
        with lock:
            fetched.append(name)
        time.sleep(0.2)
        return read(self, name, **options)

    monkeypatch.setattr(SSMProvider, "_get", slow_read)
    yield fetched
    parameters.clear_caches()


def test_ten_threads_of_a_cold_start_fetch_the_key_once(fetches: list[str]) -> None:
    source = SecretSource(parameter=PARAMETER)

    with ThreadPoolExecutor(10) as pool:
        keys = list(pool.map(lambda _: source.get(), range(10)))

    assert keys == ["sk-or-v1-secret"] * 10
    assert fetches == [PARAMETER]


def test_a_refresh_after_a_refused_key_fetches_again(fetches: list[str]) -> None:
    source = SecretSource(parameter=PARAMETER)
    source.get()

    source.get(refresh=True)

    assert fetches == [PARAMETER, PARAMETER]
