"""What the arm64 tests share (tests/infra/conftest.py makes fixtures of it): the artifacts `cdk synth`
builds with layers/build.py, a stand-in for what Lambda's runtime ships, and an aarch64 CPython 3.13 run
under qemu-user (Debian 13's, fetched by tests/support/arm64_python.sh).

Without qemu, apt-get or dpkg-deb the tests that need them are skipped, or fail with PARLEY_REQUIRE_ARM64=1
(as CI sets).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "layers" / "build.py"
ELF_MACHINE_AARCH64 = 183


def tool(*names: str) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def missing(reason: str):
    """Skips the test, or fails it where arm64 checks are required (CI)."""
    if os.environ.get("PARLEY_REQUIRE_ARM64") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine of a shared library (183: aarch64), or None if it is no ELF file."""
    head = path.read_bytes()[:20]
    return int.from_bytes(head[18:20], "little") if head[:4] == b"\x7fELF" else None


def build(what: str, out: Path) -> Path:
    """layers/build.py WHAT OUT, as `cdk synth` runs it; the directory Lambda puts on sys.path (/var/task for
    the functions package, /opt/python for a layer)."""
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), what, str(out)], capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out if what == "functions" else out / "python"


def runtime_packages(out: Path) -> Path:
    """What Lambda's python3.13 runtime ships and the layer leaves out (build.RUNTIME_PROVIDED: boto3 and the
    pure-Python packages botocore needs), at this venv's versions, installed for Lambda as the layer is."""
    spec = importlib.util.spec_from_file_location("layer_build", BUILD_SCRIPT)
    layer_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layer_build)
    requirements = out / "runtime-requirements.txt"
    requirements.write_text("".join(f"{name}=={version(name)}\n" for name in sorted(layer_build.RUNTIME_PROVIDED)))
    target = out / "site-packages"
    result = subprocess.run(
        layer_build._install_command(target, requirements), capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    layer_build._precompile(target)  # as the layers are: qemu would compile them on every run
    return target


@dataclass(frozen=True)
class Arm64Python:
    """Debian 13's aarch64 python3.13 in `sysroot`, run by `qemu`."""

    qemu: str
    sysroot: Path

    def run(self, *args: str, path: list[Path], env: dict[str, str] | None = None, timeout: float = 600):
        """python3.13 ARGS under qemu, from the repository's root, with `path` first on sys.path."""
        environment = {**(os.environ if env is None else env), "PYTHONNOUSERSITE": "1"}
        environment["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
        return subprocess.run(
            [self.qemu, "-L", str(self.sysroot), str(self.sysroot / "usr" / "bin" / "python3.13"), *args],
            cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip


def arm64_python() -> Arm64Python:
    """The interpreter, fetched once per machine (18 MB) into the user's cache; skips (or fails) without qemu."""
    qemu = tool("qemu-aarch64-static", "qemu-aarch64")
    if not (qemu and shutil.which("apt-get") and shutil.which("dpkg-deb")):
        missing("needs qemu-aarch64(-static), apt-get and dpkg-deb (Debian: apt-get install qemu-user-static)")
    sysroot = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "parley" / "arm64-python3.13"
    fetch = subprocess.run(
        ["bash", str(REPO_ROOT / "tests" / "support" / "arm64_python.sh"), str(sysroot), sys.executable],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if fetch.returncode != 0:
        missing(f"could not fetch Debian's arm64 python3.13: {fetch.stderr[-2000:]}")
    return Arm64Python(qemu, sysroot)
