"""make package: what the zips hold, that builds are reproducible, sizes, and that handlers import on python3.12."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import package
from stack.resources import sample_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = package.function_names()

try:
    PYTHON312: str | None = package.find_python312()
except package.PackagingError:
    PYTHON312 = None
needs_python312 = pytest.mark.skipif(PYTHON312 is None, reason="SKIPPED: Python 3.12 is not installed (set PYTHON312)")


def build(dist: Path, architecture: str) -> dict[str, Path]:
    assert PYTHON312 is not None
    artifacts = {name: package.package_function(name, dist) for name in FUNCTIONS}
    artifacts["layer"] = package.package_layer(architecture, dist, PYTHON312)
    return artifacts


@pytest.fixture(scope="module")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("dist-arm64"), "arm64")


@pytest.fixture(scope="module")
def x86_64(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("dist-x86_64"), "x86_64")


def names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as opened:
        return opened.namelist()


def infos(archive: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(archive) as opened:
        return opened.infolist()


@needs_python312
def test_each_function_zip_holds_its_own_code_only(arm64: dict[str, Path]) -> None:
    for name in FUNCTIONS:
        entries = names(arm64[name])
        assert "handler.py" in entries
        code = [entry for entry in entries if not entry.startswith("dashboard/")]
        assert all(entry.endswith(".py") and "/" not in entry for entry in code), entries
        assert sum(info.compress_size for info in infos(arm64[name]) if info.filename in code) < 100 * 1024
    dashboard = [info for info in infos(arm64["api"]) if info.filename.startswith("dashboard/")]
    assert {"dashboard/index.html", "dashboard/app.js", "dashboard/app.css"} <= {info.filename for info in dashboard}
    assert sum(info.file_size for info in dashboard) < 300 * 1024  # the static assets' own budget, uncompressed


@needs_python312
def test_the_layer_holds_engagement_and_its_dependencies_under_python(arm64: dict[str, Path]) -> None:
    entries = names(arm64["layer"])
    assert all(entry.startswith("python/") for entry in entries)
    top_level = {entry.split("/")[1] for entry in entries}
    assert {"engagement", "aws_lambda_powertools", "pydantic", "pydantic_core"} <= top_level
    assert not top_level & {"boto3", "botocore", "s3transfer"}  # the runtime has them
    assert "localmode" not in top_level  # development tooling never ships
    assert not [e for e in entries if re.search(r"/tests?/", e)]
    bytecode = [e for e in entries if e.endswith((".pyc", ".pyo"))]
    assert bytecode, "the layer should ship Python 3.12 bytecode"
    assert all(e.endswith(".cpython-312.pyc") and "/__pycache__/" in e for e in bytecode)
    assert any(re.search(r"pydantic_core/_pydantic_core\.cpython-312-aarch64-linux-gnu\.so$", e) for e in entries)
    assert "python/tzdata/zoneinfo/Europe/London" in entries  # quiet hours, whatever the runtime's OS image has
    assert arm64["layer"].stat().st_size < 15 * 1024 * 1024


@pytest.mark.deploy
@needs_python312
def test_building_the_same_tree_twice_gives_byte_identical_zips(arm64: dict[str, Path], tmp_path: Path) -> None:
    again = build(tmp_path, "arm64")
    for name, artifact in arm64.items():
        assert hashlib.sha256(artifact.read_bytes()).digest() == hashlib.sha256(again[name].read_bytes()).digest(), name
    with zipfile.ZipFile(arm64["layer"]) as opened:
        stamps = {info.date_time for info in opened.infolist()}
        listed = [info.filename for info in opened.infolist()]
    assert stamps == {package.FIXED_TIME}
    assert listed == sorted(listed)


@pytest.fixture(scope="module")
def python312_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean Python 3.12 with only what the Lambda runtime provides (boto3 and its dependencies)."""
    assert PYTHON312 is not None
    return package.lambda_runtime(tmp_path_factory.mktemp("runtime"), PYTHON312)


@pytest.mark.deploy
@needs_python312
@pytest.mark.parametrize(
    ("function", "extra", "openai"),
    [(name, {}, False) for name in FUNCTIONS]
    + [("email_processor", {"OPENROUTER_API_KEY_PARAMETER": "/client-engagement-dev/openrouter-api-key"}, True)],
    ids=[*FUNCTIONS, "email_processor-with-llm"],
)
def test_each_handler_imports_from_its_zip_and_the_layer_on_python312(
    function: str, extra: dict[str, str], openai: bool, x86_64: dict[str, Path], python312_runtime: Path, tmp_path: Path
) -> None:
    task, opt = tmp_path / "task", tmp_path / "opt"
    with zipfile.ZipFile(x86_64[function]) as opened:
        opened.extractall(task)
    with zipfile.ZipFile(x86_64["layer"]) as opened:
        opened.extractall(opt)
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import handler, engagement; "
        "assert engagement.__file__.startswith(sys.argv[2]), engagement.__file__; "
        "assert callable(handler.lambda_handler); print('ok', 'openai' in sys.modules)"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "packaging-test",
        "AWS_SECRET_ACCESS_KEY": "packaging-test",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **sample_environment(function),
        **extra,
    }
    started = subprocess.run(
        [str(python312_runtime), "-I", "-c", probe, str(task), str(opt / "python")],
        env=environment, capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["ok", str(openai)]  # only the email processor, and only with a key, loads openai


def test_the_packager_refuses_to_guess_without_python312(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON312", sys.executable if sys.version_info[:2] != (3, 12) else "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", "/nonexistent")
    with pytest.raises(package.PackagingError, match=r"Python 3\.12 is needed"):
        package.find_python312()
