"""The code every function runs: the dependencies layer, the shared/ layer and the functions/ package.

All three are built by layers/build.py as CDK *local* bundling: no Docker, just pip (or uv) fetching
manylinux aarch64 wheels. Tests skip bundling (context "aws:cdk:bundling-stacks": []).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "layers" / "build.py"
REQUIREMENTS = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
_CACHES = ["__pycache__", "*.pyc", "*.pyo"]


class BundlingFailed(Exception):
    """layers/build.py failed and has printed what to do (jsii hands this to the app as a RuntimeError)."""


# The bundling steps that failed in this process: the app exits quietly on them (see infra/app.py).
FAILED_BUNDLING: list[str] = []


@jsii.implements(cdk.ILocalBundling)
class BuildScriptBundling:
    """Runs `python layers/build.py <what> <output_dir>` in place of a bundling container."""

    def __init__(self, what: str) -> None:
        self.what = what

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        # Raise rather than return False: False would make CDK fall back to Docker, which we don't use.
        if subprocess.run([sys.executable, str(BUILD_SCRIPT), self.what, output_dir], check=False).returncode:
            FAILED_BUNDLING.append(self.what)
            raise BundlingFailed(f"layers/build.py {self.what} failed")
        return True


def _bundled(what: str) -> cdk.BundlingOptions:
    # `image` is required by the type but never pulled: local bundling always succeeds or raises.
    return cdk.BundlingOptions(image=cdk.DockerImage.from_registry("unused"), local=BuildScriptBundling(what))


def function_code() -> lambda_.Code:
    """The functions/ package, so that handler strings read `functions.<name>.handler`."""
    return lambda_.Code.from_asset(str(REPO_ROOT / "functions"), exclude=_CACHES, bundling=_bundled("functions"))


class RuntimeLayers(Construct):
    """The two layers: third-party dependencies (rarely change) and shared/ (changes with every feature)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            description="Parley third-party dependencies (layers/dependencies/requirements.txt)",
            code=lambda_.Code.from_asset(
                str(REQUIREMENTS.parent),
                exclude=["build"],
                bundling=_bundled("dependencies"),
                # The layer is a function of the pins and the build script, not of anything else here.
                asset_hash_type=cdk.AssetHashType.CUSTOM,
                asset_hash=_digest(REQUIREMENTS, BUILD_SCRIPT),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        self.shared = lambda_.LayerVersion(
            self,
            "Shared",
            description="Parley shared/ package",
            code=lambda_.Code.from_asset(str(REPO_ROOT / "shared"), exclude=_CACHES, bundling=_bundled("shared")),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.shared]


def _digest(*files: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()
