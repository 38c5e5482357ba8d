"""Builds what the Lambda functions run, without Docker: the two layers and the code package.

    python layers/build.py dependencies OUT   # OUT/python/… : layers/dependencies/requirements.txt
    python layers/build.py shared OUT         # OUT/python/shared : the shared/ package
    python layers/build.py functions OUT      # OUT/functions : the handlers (functions.<name>.handler)

The CDK app calls this script as local bundling (infra/constructs/layers.py); it can also be run by
hand. Dependencies come from PyPI as manylinux aarch64 wheels for CPython 3.13 (Lambda's python3.13 on
arm64), so no compiler and no container are needed. Standard library only, plus `packaging` if present.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"

PYTHON_VERSION = "3.13"
# Lambda's Amazon Linux 2023 has glibc 2.34: manylinux_2_28 and older wheels run there.
PIP_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")
UV_PLATFORM = "aarch64-manylinux_2_28"
# Shipped by the Lambda Python runtime (boto3 and its dependencies): never bundled. botocore is bundled: the
# layer's own, pinned to the version the tests ran with, with its data trimmed (layers/botocore_data.py).
RUNTIME_PROVIDED = frozenset({"boto3", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
# Markers evaluated as on Lambda, to know which requirements apply there.
LAMBDA_MARKER_ENV = {
    "python_version": PYTHON_VERSION,
    "python_full_version": f"{PYTHON_VERSION}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "aarch64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
}
_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def build_dependencies(out_dir: Path, requirements: Path = REQUIREMENTS) -> None:
    target = out_dir / "python"
    command = _install_command(target, requirements)
    if subprocess.run(command, stdout=sys.stderr, check=False).returncode != 0:
        raise SystemExit(
            "layers/build.py: fetching the layer's wheels failed (the installer's reason is above): "
            "check that PyPI is reachable, then run `npx cdk synth` again"
        )
    check_closure(target, requirements)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them on Lambda
    if (target / "botocore").is_dir():  # 30 MB of data for ~420 services down to Parley's 5 (0.7 MB)
        _botocore_data().replace_in_place(target / "botocore")
    _precompile(target)


def build_shared(out_dir: Path) -> None:
    target = out_dir / "python" / "shared"
    shutil.copytree(REPO_ROOT / "shared", target, ignore=_CACHES, dirs_exist_ok=True)
    _precompile(target)


def package_functions(out_dir: Path) -> None:
    target = out_dir / "functions"
    shutil.copytree(REPO_ROOT / "functions", target, ignore=_CACHES, dirs_exist_ok=True)
    _precompile(target)


def _install_command(target: Path, requirements: Path) -> list[str]:
    # --no-deps: requirements.txt pins the whole closure (minus RUNTIME_PROVIDED); check_closure verifies it.
    common = ["--target", str(target), "--python-version", PYTHON_VERSION, "--no-deps", "-r", str(requirements)]
    kind, installer = find_installer()
    if kind == "uv":
        return [*installer, "pip", "install", "--quiet", "--python", sys.executable,
                "--python-platform", UV_PLATFORM, "--only-binary", ":all:", *common]  # fmt: skip
    platforms = [arg for platform in PIP_PLATFORMS for arg in ("--platform", platform)]
    return [*installer, "install", "--quiet", "--disable-pip-version-check", "--root-user-action=ignore",
            "--no-compile", "--implementation", "cp", "--only-binary=:all:", *platforms, *common]  # fmt: skip


def find_installer() -> tuple[str, list[str]]:
    """("uv" | "pip", the command that runs it), looked for wherever it may be, PATH or not.

    bootstrap.sh puts uv in .venv, but the app may run elsewhere: a venv made by uv has no pip, one made
    by `python -m venv` has no uv, and PATH may hold neither (uv installed as a module of another Python).
    """
    if importlib.util.find_spec("uv") is not None:
        return "uv", [sys.executable, "-m", "uv"]
    if importlib.util.find_spec("pip") is not None:
        return "pip", [sys.executable, "-m", "pip"]
    if uv := shutil.which("uv"):
        return "uv", [uv]
    base = getattr(sys, "_base_executable", None)  # the Python a venv was made from
    if base and base != sys.executable and Path(base).exists():
        for module in ("uv", "pip"):
            if subprocess.run([base, "-c", f"import {module}"], capture_output=True, check=False).returncode == 0:
                return module, [base, "-m", module]
    raise SystemExit(
        "layers/build.py: no pip or uv to fetch the layer's wheels: run `bash infra/bootstrap.sh` "
        "(it puts uv in .venv, which cdk.json runs), then `npx cdk synth` again"
    )


def check_closure(target: Path, requirements: Path = REQUIREMENTS) -> None:
    """Fail if an installed package needs something that is neither installed nor in the runtime."""
    try:
        from importlib.metadata import distributions

        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # pragma: no cover - packaging is in every dev environment
        print("layers/build.py: `packaging` missing, dependency closure not checked", file=sys.stderr)
        return
    installed = {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(target)])}
    runtime = {canonicalize_name(name) for name in RUNTIME_PROVIDED}
    pending = [Requirement(line) for line in _requirement_lines(requirements)]
    seen: set[tuple[str, frozenset[str]]] = set()
    missing: list[str] = []
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        if (name, frozenset(req.extras)) in seen or name in runtime:
            continue
        seen.add((name, frozenset(req.extras)))
        dist = installed.get(name)
        if dist is None or not req.specifier.contains(dist.version, prereleases=True):
            missing.append(str(req))
            continue
        for raw in dist.requires or ():
            sub = Requirement(raw)
            extras = req.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({**LAMBDA_MARKER_ENV, "extra": e}) for e in extras):
                pending.append(sub)
    if missing:
        raise SystemExit(f"layers/dependencies/requirements.txt misses (add and pin them): {sorted(missing)}")


def _botocore_data():
    """layers/botocore_data.py, wherever this script is imported from (the CDK app, the tests)."""
    spec = importlib.util.spec_from_file_location("botocore_data", Path(__file__).with_name("botocore_data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _requirement_lines(requirements: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line]


def _precompile(target: Path) -> None:
    # Layers and code are read-only on Lambda: without .pyc files every cold start recompiles every
    # import. Hash-based, unchecked .pyc files are valid whatever the file times are after unzipping.
    if sys.version_info[:2] != tuple(int(p) for p in PYTHON_VERSION.split(".")):
        print(f"layers/build.py: not Python {PYTHON_VERSION}, skipping .pyc precompilation", file=sys.stderr)
        return
    compileall.compile_dir(target, quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


BUILDERS = {"dependencies": build_dependencies, "shared": build_shared, "functions": package_functions}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=sorted(BUILDERS))
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    BUILDERS[args.what](args.out_dir)


if __name__ == "__main__":
    main()
