"""The local mode's function runtime: a worker process per function, killed at its timeout as Lambda does."""

from __future__ import annotations

import time
from pathlib import Path

from localmode.runtime import LocalFunction, WorkerSpec

SLOW_HANDLER = """
import pathlib
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if "marker" in event:
        pathlib.Path(event["marker"]).write_text("written after the timeout")
    return {"remainingMs": context.get_remaining_time_in_millis()}
"""


def test_an_invocation_past_its_timeout_is_stopped_at_once_and_the_next_one_runs(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW_HANDLER)
    spec = WorkerSpec(label="slow", function_name="slow", code_dir=str(tmp_path), handler="slow.handler",
                      environment={}, timeout=1, memory=128, log_path=str(tmp_path / "slow.log"),
                      region="us-east-1")  # fmt: skip
    function = LocalFunction(spec)
    marker = tmp_path / "marker"
    try:
        timed_out = function.invoke({"sleep": 3, "marker": str(marker)})
        time.sleep(3)  # past the moment the handler would have written, had it not been stopped

        assert timed_out.error is not None
        assert timed_out.error["errorType"] == "Sandbox.Timedout"
        assert not marker.exists()  # no side effect after the timeout
        again = function.invoke({})
        assert again.error is None
        assert 0 < again.result["remainingMs"] <= 1000
    finally:
        function.stop()
