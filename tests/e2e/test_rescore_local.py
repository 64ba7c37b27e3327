"""`make rescore NOW=…` in the local mode: time passes for every function, and drift shows up as a draft.

Its own local mode (module scope): the simulated time it sets would be wrong for the other end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from engagement.clock import format_instant
from stack import resources
from tests.e2e.conftest import REPO_ROOT, RunningLocalMode, local_mode_environment
from tests.support.events import client_values, to_image
from tests.support.local_mode import api_get, emails_of, wait_for

pytestmark = pytest.mark.e2e


def as_a_second_shell(local_mode: RunningLocalMode) -> dict[str, str]:
    """Another shell's environment: no LOCAL_*_PORT, as `make rescore` or `make seed` in a new terminal would have
    (the local mode runs on ports other than the defaults here); only where its state lives."""
    environment = local_mode_environment(local_mode.state_dir, local_mode.aws_port, local_mode.app_port,
                                         local_mode.token)  # fmt: skip
    return {name: value for name, value in environment.items() if name not in ("LOCAL_AWS_PORT", "LOCAL_APP_PORT")}


def rescore(local_mode: RunningLocalMode, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "localmode", "rescore", *arguments], cwd=REPO_ROOT,
                          env=as_a_second_shell(local_mode), capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def test_seeding_from_another_shell_finds_the_running_local_mode_on_its_port(local_mode: RunningLocalMode) -> None:
    assert local_mode.aws_port != 4566
    seeded = subprocess.run([sys.executable, "scripts/seed_users.py", "--count", "3", "--seed", "5", "--no-progress"],
                            cwd=REPO_ROOT, env=as_a_second_shell(local_mode), capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    assert "wrote 3 clients" in seeded.stdout


def test_a_sweep_200_days_later_finds_the_good_client_at_risk_and_drafts_once(local_mode: RunningLocalMode) -> None:
    today = datetime.now(UTC)
    loyal = client_values("loyal", lastOrderDate=format_instant(today - timedelta(days=20)), orderCount=20,
                          averageOrderValue=500)  # fmt: skip
    local_mode.client("dynamodb").put_item(TableName=resources.USERS.name, Item=to_image(loyal))
    assert wait_for(lambda: api_get(local_mode, "/api/users/loyal").get("band") == "good", timeout=20)

    later = (today + timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    swept = rescore(local_mode, "--now", later)

    assert swept.returncode == 0, swept.stderr
    assert f"run {later[:10]}" in swept.stdout
    drafts = wait_for(lambda: emails_of(local_mode, "loyal"), timeout=30)
    assert len(drafts) == 1
    client = api_get(local_mode, "/api/users/loyal")  # the API reads the same shifted clock
    assert (client["band"], client["score"]["band"], client["rescoredOn"]) == ("at_risk", "at_risk", later[:10])
    assert client["lastEmailDate"] >= later[:10]  # the email processor's clock moved too

    again = rescore(local_mode)  # the same (simulated) day: nothing new
    assert again.returncode == 0, again.stderr
    assert len(emails_of(local_mode, "loyal")) == 1
