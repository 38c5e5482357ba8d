"""Synthesizes the Parley stack in-process, once per variant per session, with bundling skipped."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

JWKS_URL = "https://issuer.example.com/.well-known/jwks.json"
# jsii prints a banner on every start under Node 20 (this machine's Node); it only affects Node 20.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass
class Synth:
    """One synthesized variant: the stack object, its template and the cloud assembly directory."""

    stack: Any  # infra.stack.ParleyStack
    assertions: Template
    outdir: Path

    @cached_property
    def template(self) -> dict[str, Any]:
        return self.assertions.to_json()

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(construct.node.default_child.logical_id)

    def function(self, handler: str) -> tuple[str, dict[str, Any]]:
        """The one Lambda function with this handler string: (logical id, resource)."""
        found = [
            (k, v)
            for k, v in self.of_type("AWS::Lambda::Function").items()
            if v["Properties"].get("Handler") == handler
        ]
        assert len(found) == 1, f"{len(found)} functions with handler {handler}"
        return found[0]

    @staticmethod
    def get_att_targets(value: Any, attribute: str = "Arn") -> set[str]:
        """Logical ids referenced as {"Fn::GetAtt": [id, attribute]} anywhere inside value."""
        pattern = r'"Fn::GetAtt": \["([^"]+)", "' + re.escape(attribute) + r'"\]'
        return set(re.findall(pattern, json.dumps(value)))

    @staticmethod
    def refs(value: Any) -> set[str]:
        """Logical ids referenced as {"Ref": id} anywhere inside value."""
        return set(re.findall(r'"Ref": "([^"]+)"', json.dumps(value)))

    def role_policies(self, function_id: str) -> list[dict[str, Any]]:
        """Every statement of the inline policies attached to a function's role."""
        role = self.resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        return [
            statement
            for policy in self.of_type("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


def synthesize(outdir: Path, routes: Any = None, **context: Any) -> Synth:
    from infra.app import build_app

    # build_app adds cdk.json's context (the feature flags `cdk synth` uses); skip bundling (no pip).
    options = {} if routes is None else {"routes": routes}
    app, stack = build_app({"aws:cdk:bundling-stacks": [], **context}, outdir=str(outdir), **options)
    app.synth()  # writes outdir and runs cdk-nag: raises if a finding is not acknowledged
    return Synth(stack=stack, assertions=Template.from_stack(stack), outdir=outdir)


@pytest.fixture(scope="session")
def full(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """cdk.json's defaults: Redis on, a generated HS256 secret."""
    return synthesize(tmp_path_factory.mktemp("cdk-full"))


@pytest.fixture(scope="session")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """No Redis, tokens verified through a JWKS URL."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-minimal"),
        redis="false",
        jwks_url=JWKS_URL,
        jwt_issuer="https://issuer.example.com/",
        jwt_audience="parley",
    )


@pytest.fixture(scope="session", params=["full", "minimal"])
def variant(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------------------------------------- arm64
# The artifacts `cdk synth` deploys, built once per session, and the aarch64 interpreter that runs them
# (tests/support/arm64.py): shared by test_search_sqlite.py and test_arm64_functions.py.


@pytest.fixture(scope="session")
def dependencies_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dependencies layer's python/ directory (/opt/python on Lambda), built by layers/build.py."""
    from tests.support.arm64 import build

    return build("dependencies", tmp_path_factory.mktemp("dependencies-layer"))


@pytest.fixture(scope="session")
def lambda_sys_path(dependencies_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A deployed function's import path, in Lambda's order: the function package (/var/task), the layers
    (/opt/python: the shared layer and the dependencies layer), then what the runtime itself ships."""
    from tests.support.arm64 import build, runtime_packages

    return [
        build("functions", tmp_path_factory.mktemp("functions-package")),
        build("shared", tmp_path_factory.mktemp("shared-layer")),
        dependencies_layer,
        runtime_packages(tmp_path_factory.mktemp("runtime")),
    ]


@pytest.fixture(scope="session")
def arm64_python():
    from tests.support.arm64 import arm64_python

    return arm64_python()
