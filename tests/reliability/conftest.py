"""The reliability suite: faults injected at the adapters, never luck with sleeps.

`make test` runs it at small sizes (the fast slice); `make test-reliability` sets RELIABILITY_FULL=1 and runs it at
the sizes the figures in docs/RELIABILITY.md come from. Each test records what it measured with the `figures`
fixture; the run prints them at the end and writes them to .artifacts/reliability.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("RELIABILITY_FULL") == "1"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts"))
_FIGURES: dict[str, dict[str, Any]] = {}


def scale(fast: int, full: int) -> int:
    """A size for the fast slice (make test) or the whole suite (make test-reliability)."""
    return full if FULL else fast


class Figures:
    """What one test measured: events in, emails out, duplicates, lost, dead-lettered, peak RSS, time…"""

    def __init__(self, test: str) -> None:
        self.test = test

    def record(self, **values: Any) -> None:
        _FIGURES.setdefault(self.test, {}).update(values)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node.name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:  # a worker of make test's processes: the controller gathers, writes and prints
        worker_output["reliability_figures"] = _FIGURES
        return
    if not _FIGURES:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "reliability.json").write_text(json.dumps({"full": FULL, "figures": _FIGURES}, indent=2) + "\n")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's, when the tests run in several processes
def pytest_testnodedown(node: Any, error: Any) -> None:
    _FIGURES.update(getattr(node, "workeroutput", {}).get("reliability_figures", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.write_sep("-", f"reliability figures ({'full' if FULL else 'fast slice'})")
    for test, values in _FIGURES.items():
        shown = ", ".join(f"{name} {value}" for name, value in values.items())
        terminalreporter.write_line(f"{test}: {shown}")
