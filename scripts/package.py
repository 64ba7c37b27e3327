"""Build the Lambda artifacts into dist/: one zip per function folder and one layer zip.

    python scripts/package.py                  # arm64 (the default architecture)
    python scripts/package.py --arch x86_64 --dist dist/x86_64

- A function zip holds its folder's own code only (handler.py at the root, as Lambda imports it).
- The layer zip holds, under python/, libs/engagement and the pinned third-party dependencies
  (requirements/layer.lock) as manylinux wheels for CPython 3.12 on the chosen architecture, installed with
  `pip install --platform … --only-binary=:all: --python-version 3.12 --no-compile`, then compiled to Python 3.12
  bytecode with `--invalidation-mode unchecked-hash`. boto3 and botocore are not bundled: the runtime has them.
- Builds are reproducible: sorted entries, fixed timestamps and permissions, bytecode without mtimes. Building
  the same tree twice gives byte-identical zips.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO_ROOT / "functions"
LIBS = REPO_ROOT / "libs"
LAYER_LOCK = REPO_ROOT / "requirements" / "layer.lock"
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
SKIPPED_DIRS = {"tests", "test", ".pytest_cache"}
BYTECODE = ".cpython-312.pyc"  # the only bytecode a layer for python3.12 should hold


class PackagingError(RuntimeError):
    pass


def find_python312() -> str:
    """An interpreter for Python 3.12 bytecode (Lambda's python3.12 runtime)."""
    candidates = [os.environ.get("PYTHON312", ""), shutil.which("python3.12") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in pyenv_root.glob("versions/3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        try:
            version = subprocess.run(  # noqa: S603
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
        except (OSError, subprocess.CalledProcessError):
            continue
        if version == "True":
            return candidate
    raise PackagingError("Python 3.12 is needed to compile the layer's bytecode: install it or set PYTHON312")


def _files(root: Path, *, bytecode: bool = False) -> Iterable[Path]:
    """Files to ship: no tests, and bytecode only if asked for, and then only Python 3.12's."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts[:-1]) or not path.is_file():
            continue
        in_cache = "__pycache__" in relative.parts
        wanted_bytecode = bytecode and in_cache and path.name.endswith(BYTECODE)
        if (in_cache or path.suffix in (".pyc", ".pyo")) and not wanted_bytecode:
            continue
        yield path


def write_zip(target: Path, entries: Iterable[tuple[str, Path]]) -> None:
    """A reproducible zip: entries sorted by name, fixed time, fixed permissions, maximum compression."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
            info.create_system = 3  # unix, whatever the build machine
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    temporary.replace(target)


def package_function(name: str, dist: Path) -> Path:
    source = FUNCTIONS / name
    target = dist / f"{name}.zip"
    write_zip(target, ((str(path.relative_to(source)), path) for path in _files(source)))
    return target


def build_layer_tree(architecture: str, build: Path, python312: str) -> Path:
    """Install the pinned dependencies and libs/engagement under build/python, compiled for Python 3.12."""
    site = build / "python"
    shutil.rmtree(build, ignore_errors=True)
    site.mkdir(parents=True)
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--require-hashes", "--only-binary=:all:", "--platform", PLATFORMS[architecture],
         "--python-version", "3.12", "--implementation", "cp", "--no-compile", "--target", str(site),
         "-r", str(LAYER_LOCK)],
        check=True,
    )  # fmt: skip
    for dropped in ("bin", "share"):  # console scripts and data files are of no use in a layer
        shutil.rmtree(site / dropped, ignore_errors=True)
    shutil.copytree(LIBS / "engagement", site / "engagement", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for tests in [*site.rglob("tests"), *site.rglob("test")]:
        if tests.is_dir():
            shutil.rmtree(tests)
    subprocess.run(  # noqa: S603
        [python312, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-d", "/opt/python", str(site)],
        check=True,
    )  # fmt: skip
    return site


def package_layer(architecture: str, dist: Path, python312: str) -> Path:
    target = dist / "layer.zip"
    with tempfile.TemporaryDirectory(prefix="layer-") as temporary:
        site = build_layer_tree(architecture, Path(temporary) / "layer", python312)
        write_zip(target, ((f"python/{path.relative_to(site)}", path) for path in _files(site, bytecode=True)))
    return target


# What Lambda's python3.12 runtime provides beside the standard library (so neither the layer nor a zip ships them).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")


def lambda_runtime(directory: Path, python312: str) -> Path:
    """A clean Python 3.12 in directory with only what the Lambda runtime provides, at the versions the project
    pins (requirements/dev.lock); returns its interpreter."""
    venv = directory / "venv"
    subprocess.run([python312, "-m", "venv", str(venv)], check=True)  # noqa: S603 - our own interpreter
    lock = (REPO_ROOT / "requirements" / "dev.lock").read_text()
    pins = [f"{p}=={v}" for p in RUNTIME_PACKAGES for v in re.findall(rf"^{p}==([\w.]+)", lock, re.MULTILINE)]
    subprocess.run(  # noqa: S603 - our own interpreter
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
        check=True,
    )
    return venv / "bin" / "python"


def function_names() -> list[str]:
    return sorted(path.name for path in FUNCTIONS.iterdir() if (path / "handler.py").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default=os.environ.get("ARCH", "arm64"))
    parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist")
    parser.add_argument("--functions-only", action="store_true", help="skip the layer")
    args = parser.parse_args(argv)
    try:
        artifacts = [package_function(name, args.dist) for name in function_names()]
        if not args.functions_only:
            artifacts.append(package_layer(args.arch, args.dist, find_python312()))
    except (PackagingError, subprocess.CalledProcessError) as exc:
        print(f"packaging failed: {exc}", file=sys.stderr)
        return 1
    (args.dist / "ARCH").write_text(args.arch + "\n")
    for artifact in artifacts:
        print(f"{artifact.stat().st_size / 1024:9.1f} KB  {artifact}")
    print(f"architecture: {args.arch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
