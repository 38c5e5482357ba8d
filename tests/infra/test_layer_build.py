"""The real layer build, run the way `cdk synth` runs it: the CLI (or cdk.json's app command) with a PATH
that has no `uv` on it, fetching the layer's wheels from PyPI (uv's and pip's caches make reruns quick)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"
BUILD_SCRIPT = REPO_ROOT / "layers" / "build.py"


def _path_without_uv() -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "uv").exists())


def _synth(outdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`cdk synth` with bundling, as a newcomer runs it (cdk.json's app command if the CLI is not installed)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environment.update(PATH=_path_without_uv(), CDK_OUTDIR=str(outdir), **env)
    if CDK_CLI.exists():
        command = [str(CDK_CLI), "synth", "--quiet", "-o", str(outdir)]
    else:
        command = ["bash", "-c", json.loads((REPO_ROOT / "cdk.json").read_text())["app"]]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=240, check=False
    )


def _botocore_data_services() -> tuple[str, ...]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("botocore_data", REPO_ROOT / "layers" / "botocore_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SERVICES


def _asset_holding(outdir: Path, relative: str) -> Path:
    (found,) = [d for d in outdir.glob("asset.*") if (d / relative).exists()]
    return found


def test_cdk_synth_builds_the_layers_and_code_with_no_uv_on_path(tmp_path: Path) -> None:
    result = _synth(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    dependencies = _asset_holding(tmp_path, "python/pynamodb/__init__.py") / "python"
    for package in ("redis", "jwt", "aws_lambda_powertools", "cryptography"):
        assert (dependencies / package).is_dir(), f"{package} missing from the dependencies layer"
    assert not (dependencies / "boto3").exists()  # Lambda ships it
    # botocore: the pinned one, its data trimmed to Parley's services (layers/botocore_data.py)
    data = dependencies / "botocore" / "data"
    services = {d.name for d in data.iterdir() if d.is_dir()}
    assert services == set(_botocore_data_services()) and (data / "endpoints.json").is_file()
    assert not (dependencies / "bin").exists()
    # Wheels for Lambda (arm64), whatever this machine is; precompiled for a read-only file system.
    (wheel,) = dependencies.glob("cryptography-*.dist-info/WHEEL")
    assert "manylinux" in wheel.read_text() and "aarch64" in wheel.read_text()
    assert list((dependencies / "pynamodb").glob("__pycache__/*.cpython-313.pyc"))

    assert (_asset_holding(tmp_path, "python/shared/routes.py") / "python/shared/__pycache__").is_dir()
    assert (_asset_holding(tmp_path, "functions/send_message.py") / "functions/__pycache__").is_dir()


def test_a_failed_layer_build_says_what_to_do_in_one_line(tmp_path: Path) -> None:
    # PyPI out of reach: uv offline with an empty cache, pip without an index (whichever build.py picks).
    result = _synth(
        tmp_path / "out", UV_OFFLINE="1", UV_CACHE_DIR=str(tmp_path / "empty-cache"), PIP_NO_INDEX="1"
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "jsii" not in output, output
    (advice,) = [line for line in output.splitlines() if line.startswith("layers/build.py:")]
    assert "check that PyPI is reachable" in advice


def test_the_installer_is_found_in_a_venv_with_neither_pip_nor_uv(tmp_path: Path) -> None:
    # A bare venv of the Python that made .venv, and no uv on PATH: build.py falls back to that Python's
    # own pip or uv module, or, if it has neither, says what to do in one line.
    base = getattr(sys, "_base_executable", sys.executable)
    base_has_one = any(
        subprocess.run([base, "-c", f"import {m}"], capture_output=True, check=False).returncode == 0
        for m in ("uv", "pip")
    )
    subprocess.run([base, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    probe = (
        "import runpy, subprocess, sys; build = runpy.run_path(sys.argv[1]); kind, command = build['find_installer']();"
        "print(kind, command[0]); sys.exit(subprocess.run([*command, '--version'], capture_output=True).returncode)"
    )
    environment = {**os.environ, "PATH": _path_without_uv()}
    environment.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [str(tmp_path / "bare" / "bin" / "python"), "-c", probe, str(BUILD_SCRIPT)],
        env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if not base_has_one:
        assert result.returncode != 0 and result.stderr.strip().startswith("layers/build.py: no pip or uv")
        return
    assert result.returncode == 0, result.stdout + result.stderr
    kind, interpreter = result.stdout.split()
    assert kind in ("uv", "pip") and interpreter == base
