"""The dependencies layer: pinned within pyproject's ranges, complete, without the runtime's own SDK."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]


def _build_module():
    spec = importlib.util.spec_from_file_location("layers_build", REPO_ROOT / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


def _pins() -> dict[str, Requirement]:
    requirements = [Requirement(line) for line in build._requirement_lines(build.REQUIREMENTS)]
    for req in requirements:
        assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", f"{req} is not pinned"
    return {canonicalize_name(r.name): r for r in requirements}


def test_pins_satisfy_pyproject() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = _pins()
    runtime = {canonicalize_name(n) for n in build.RUNTIME_PROVIDED}
    for dependency in map(Requirement, pyproject["project"]["dependencies"]):
        name = canonicalize_name(dependency.name)
        if name in runtime:
            assert name not in pins, f"{name} ships with the Lambda runtime; do not bundle it"
            continue
        assert name in pins, f"{dependency} is missing from layers/dependencies/requirements.txt"
        version = next(iter(pins[name].specifier)).version
        assert dependency.specifier.contains(version), f"{name}=={version} is outside {dependency}"
        assert dependency.extras <= pins[name].extras


def test_runtime_packages_are_not_bundled() -> None:
    assert not set(_pins()) & {canonicalize_name(n) for n in build.RUNTIME_PROVIDED}


def test_the_bundled_botocore_is_the_one_the_tests_run_with() -> None:
    """Its data is trimmed for that version (layers/botocore_data.py); the tests check the trimmed data."""
    import botocore

    assert next(iter(_pins()["botocore"].specifier)).version == botocore.__version__


def test_the_venv_lock_pins_the_layers_packages_at_the_layers_versions() -> None:
    """infra/bootstrap.sh installs the venv from infra/requirements-venv.lock: the tests run what the layer
    deploys, and a fresh machine gets what the last green run had (not PyPI's newest botocore)."""
    lock = [
        Requirement(line.split("#", 1)[0].strip())
        for line in (REPO_ROOT / "infra" / "requirements-venv.lock").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    assert all(len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" for r in lock)
    locked = {canonicalize_name(r.name): next(iter(r.specifier)).version for r in lock if r.marker is None
              or r.marker.evaluate(build.LAMBDA_MARKER_ENV)}
    for name, pin in _pins().items():
        assert locked.get(name) == next(iter(pin.specifier)).version, f"{name}: lock {locked.get(name)}, layer {pin}"


def _fake_dist(site: Path, name: str, version: str, requires: list[str]) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_closure_check_catches_a_missing_transitive_pin(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha==1.0\n")
    site = tmp_path / "python"
    _fake_dist(site, "alpha", "1.0", ["beta>=2", "urllib3>=1", 'gamma; python_version < "3.8"', 'delta; extra == "x"'])
    with pytest.raises(SystemExit, match="beta"):
        build.check_closure(site, requirements)
    _fake_dist(site, "beta", "2.1", [])
    build.check_closure(site, requirements)  # urllib3: runtime; gamma, delta: markers say not needed


def test_function_code_needs_no_boto3() -> None:
    """boto3 is not a runtime dependency: nothing the functions load may import it (botocore is enough)."""
    runtime_code = [*(REPO_ROOT / "shared").rglob("*.py"), *(REPO_ROOT / "functions").rglob("*.py")]
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in runtime_code
        if any(line.lstrip().startswith(("import boto3", "from boto3")) for line in path.read_text().splitlines())
    ]
    assert not offenders
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "boto3" not in {canonicalize_name(Requirement(d).name) for d in pyproject["project"]["dependencies"]}
