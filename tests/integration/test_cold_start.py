"""Each handler's cold start in a fresh process, with the environment Terraform gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stack.resources import sample_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = "import sys, handler; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"


def cold_start(name: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TABLE_NAME")}
    env.update(environment)
    env["PYTHONPATH"] = str(REPO_ROOT / "libs")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT / "functions" / name, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize("name", ["stream_processor", "email_processor", "api"])
def test_a_handler_starts_from_its_own_folder_without_openai(name: str) -> None:
    started = cold_start(name, sample_environment(name))
    assert started.returncode == 0, started.stderr
    modules = set(started.stdout.split())
    assert "engagement" in modules
    assert "openai" not in modules
    assert "moto" not in modules
    assert "localmode" not in modules  # the local mode is tooling, never shipped


@pytest.mark.parametrize(("name", "variable"), [("stream_processor", "EVENTS_TOPIC_ARN"), ("api", "USERS_TABLE_NAME")])
def test_a_missing_variable_fails_the_cold_start_naming_it(name: str, variable: str) -> None:
    environment = {k: v for k, v in sample_environment(name).items() if k != variable}
    started = cold_start(name, environment)
    assert started.returncode != 0
    assert "ConfigurationError" in started.stderr
    assert f"{variable}: Field required" in started.stderr


ON, OFF = {"POWERTOOLS_TRACE_DISABLED": "false"}, {"POWERTOOLS_TRACE_DISABLED": "true"}
IN_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("tracing", "traced"),
    [({**IN_LAMBDA, **ON}, True), ({**IN_LAMBDA, **OFF}, False), (ON, False)],
    ids=["in Lambda, traced", "in Lambda, xray_tracing = false", "outside Lambda"],
)
def test_the_x_ray_sdk_is_loaded_only_where_traces_are_sent(tracing: dict[str, str], traced: bool) -> None:
    """Off, powertools' Tracer would still import the X-Ray SDK (about 0.3 s of a cold start) to switch it off."""
    started = cold_start("stream_processor", {**sample_environment("stream_processor"), **tracing})
    assert started.returncode == 0, started.stderr
    assert ("aws_xray_sdk" in started.stdout.split()) is traced
