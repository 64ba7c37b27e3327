"""Start the real local mode (`python -m localmode run`) in a subprocess on free ports."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


_handed_out: set[int] = set()


def free_port() -> int:
    """A port that is free now and that no outgoing connection can take before the local mode binds it.

    A port the kernel picks with bind(0) comes from the ephemeral range, which every outgoing connection draws from
    too: the local mode's workers open hundreds to the emulator before the API binds its port, and one of them took
    it once ("Address already in use"). So pick below that range, never the same port twice in one process."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = [port for port in range(10_000, low) if port not in _handed_out]
    for port in random.sample(candidates, min(len(candidates), 200)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between 10000 and the ephemeral range's start ({low})")


@dataclass
class RunningLocalMode:
    process: subprocess.Popen[str]
    aws_port: int
    app_port: int
    token: str
    state_dir: Path
    output: Path

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1")

    def console(self) -> str:
        return self.output.read_text()

    def stop(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def local_mode_environment(state_dir: Path, aws_port: int, app_port: int, token: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        LOCAL_AWS_PORT=str(aws_port), LOCAL_APP_PORT=str(app_port), API_TOKEN=token, LOCAL_STATE_DIR=str(state_dir),
        PYTHONUNBUFFERED="1",
    )  # fmt: skip
    return environment


def start_local_mode(state_dir: Path, token: str, *, own_terminal: bool = False) -> RunningLocalMode:
    """`make local` in a subprocess, once its banner is out; own_terminal puts it in a process group of its own, as
    a shell does, so that a test can press Ctrl-C (SIGINT to the whole group)."""
    output = state_dir / "console.txt"
    aws_port, app_port = free_port(), free_port()
    with output.open("w") as console:
        process = subprocess.Popen(
            [sys.executable, "-m", "localmode", "run"],
            cwd=REPO_ROOT,
            env=local_mode_environment(state_dir, aws_port, app_port, token),
            stdout=console,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=own_terminal,
        )
    running = RunningLocalMode(process, aws_port, app_port, token, state_dir, output)
    deadline = time.monotonic() + 60
    while "Ctrl-C to stop" not in running.console():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the local mode did not start:\n{running.console()}")
        time.sleep(0.2)
    return running


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalMode]:
    running = start_local_mode(tmp_path_factory.mktemp("local"), "e2e-token-0123456789abcdef")
    yield running
    if running.process.poll() is None:
        running.stop()


# ---- a real browser: Debian's chromium driven by Playwright (no browser download) ---------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
BROWSER_MISSING = f"chromium not found at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO_ROOT / ".artifacts"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """REQUIRE_BROWSER=1 (set by .ci/run) turns a missing chromium into a failure instead of a skip."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(BROWSER_MISSING)
        pytest.skip(BROWSER_MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Sandboxed frames (the email preview) in the page's own process, so page.route sees what they load.
        arguments = ["--no-sandbox", "--disable-features=IsolateSandboxedIframes"]
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=arguments)
        yield launched
        launched.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if any(BROWSER_MISSING in str(getattr(report, "longrepr", "")) for report in skipped):
        terminalreporter.write_line("")
        terminalreporter.write_line(f"!!! SKIPPED: the dashboard's browser tests: {BROWSER_MISSING} !!!", red=True)
