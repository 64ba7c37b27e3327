"""Where the running local mode is: what it wrote into its state directory's env file (.local/env), read by the
commands that talk to it (make seed, make rescore) so they find it whatever ports it was started on."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AWS_PORT = 4566


def state_dir() -> Path:
    return Path(os.environ.get("LOCAL_STATE_DIR", REPO_ROOT / ".local"))


def deployment_dir(state: Path) -> Path:
    """Where make deploy-local keeps the Terraform-made stack's copy of the module, state, logs and exports."""
    return state / "deploy"


def written_environment(directory: Path | None = None) -> dict[str, str]:
    """The `export NAME=value` lines the local mode writes to .local/env (nothing if it has not written one)."""
    try:
        lines = ((directory or state_dir()) / "env").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.removeprefix("export ").split("=", 1) for line in lines if "=" in line)


def running_port(variable: str, written_url: str, default: int, directory: Path | None = None) -> int:
    """A port of the running local mode: the variable (LOCAL_AWS_PORT, LOCAL_APP_PORT) when set, else the port of
    the URL it wrote into its env file (AWS_ENDPOINT_URL, API_URL), else the default."""
    if port := os.environ.get(variable):
        return int(port)
    return urlsplit(written_environment(directory).get(written_url, "")).port or default


def running_endpoint() -> str:
    """The running local mode's AWS endpoint."""
    return f"http://127.0.0.1:{running_port('LOCAL_AWS_PORT', 'AWS_ENDPOINT_URL', DEFAULT_AWS_PORT)}"
