"""Where the running local mode is: what it wrote into its state directory's env file (.local/env), read by the
commands that talk to it (make seed, make rescore) so they find it whatever ports it was started on."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AWS_PORT = 4566


def state_dir() -> Path:
    return Path(os.environ.get("LOCAL_STATE_DIR", REPO_ROOT / ".local"))


def written_environment(directory: Path | None = None) -> dict[str, str]:
    """The `export NAME=value` lines the local mode writes to .local/env (nothing if it has not written one)."""
    try:
        lines = ((directory or state_dir()) / "env").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.removeprefix("export ").split("=", 1) for line in lines if "=" in line)


def running_endpoint() -> str:
    """The local mode's AWS endpoint: LOCAL_AWS_PORT when set, else the running local mode's, else the default."""
    if port := os.environ.get("LOCAL_AWS_PORT"):
        return f"http://127.0.0.1:{port}"
    return written_environment().get("AWS_ENDPOINT_URL") or f"http://127.0.0.1:{DEFAULT_AWS_PORT}"
