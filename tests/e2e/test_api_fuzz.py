"""Schemathesis against the local mode's /api/openapi.json: whatever it sends, within the schema or not, the API
answers without a 5xx and with a body the document declares for that status, and a method a route does not take
is 405 with Allow. Bounded (examples per route) so make
test stays fast; FUZZ_EXAMPLES raises it.

(schemathesis' pytest integration reads a private pytest attribute that pytest 9 removed, so the operations are
driven with Hypothesis here directly.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.e2e.conftest import RunningLocalMode

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


@pytest.mark.e2e
def test_no_request_makes_the_api_fail(local_mode: RunningLocalMode) -> None:
    headers = {"Authorization": f"Bearer {local_mode.token}"}
    schema = schemathesis.openapi.from_url(f"{local_mode.api_url}/api/openapi.json", headers=headers)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "the OpenAPI document should describe every route"

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(
                base_url=local_mode.api_url, headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            answers_as_documented()
        except Exception as failure:  # collected: every operation is tried, and all failures shown
            failures[operation.label] = str(failure)[:2000]

    assert failures == {}


@pytest.mark.e2e
@pytest.mark.slow
def test_the_coverage_phase_finds_no_server_error_and_a_405_with_allow_for_every_undeclared_method(
    local_mode: RunningLocalMode,
) -> None:
    """schemathesis' coverage phase: boundary values for every parameter, and every method a route does not take
    (TRACE among them), which must be answered 405 with an Allow header naming the methods it does take."""
    checks = "not_a_server_error,unsupported_method,allow_header_conformance,response_schema_conformance"
    ran = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{local_mode.api_url}/api/openapi.json",
         "--header", f"Authorization: Bearer {local_mode.token}", "--phases", "coverage", "--checks", checks,
         "--no-color"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
    assert re.search(r"\d+ generated, \d+ passed", ran.stdout), ran.stdout[-2000:]
