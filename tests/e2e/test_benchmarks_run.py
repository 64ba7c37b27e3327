"""make bench is not part of make test (it takes minutes); this runs every benchmark at tiny sizes (make test-slow,
which CI runs), so a change that breaks one is caught here rather than on the day someone wants the figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_benchmark_runs_at_tiny_sizes() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=280
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    sections = ("1. Cold-start", "2. Stream processor", "3. LLM writer", "4. DynamoDB request units",
                "5. Local end to end", "6. Rescoring sweep", "7. Order import", "8. The churn model",
                "9. Product candidates")  # fmt: skip
    for section in sections:
        assert section in finished.stdout
    assert "DID NOT DRAIN" not in finished.stdout
    assert "FAILED" not in finished.stdout
