"""Acknowledging cdk-nag (AwsSolutions) findings, each with its reason, next to the code that causes it."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """`finding` as cdk-nag prints it, e.g. "AwsSolutions-IAM5[Resource::*]"; applies to scope and below."""
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{finding}", reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of a construct's resource, as cdk-nag writes it in finding ids."""
    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnElement), construct.node.path
    return cdk.Stack.of(construct).resolve(resource.logical_id)
