"""The synthesized templates pass cfn-lint and cdk-nag (AwsSolutions), every exception explained."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import lint

pytestmark = pytest.mark.infra

CDK_CLI = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "cdk"

# CDK adds explicit DependsOn next to implicit ones (function -> role): noise, not a defect.
IGNORED_LINT_RULES = {"W3005"}


def test_cfn_lint_has_no_errors(variant) -> None:
    # Linted as written to disk, the same file `cdk deploy` uploads.
    template = (variant.outdir / f"{variant.stack.stack_name}.template.json").read_text()
    matches = lint(template, regions=["us-east-1", "eu-west-1"])
    errors = [m for m in matches if m.rule.id.startswith("E")]
    warnings = [m for m in matches if not m.rule.id.startswith("E") and m.rule.id not in IGNORED_LINT_RULES]
    assert errors == [], "\n".join(str(m) for m in errors)
    assert warnings == [], "\n".join(str(m) for m in warnings)


def test_every_bucket_is_private_encrypted_and_tls_only(variant) -> None:
    # infra/constructs/buckets.py's baseline, for the buckets there are now and any added later.
    buckets = variant.of_type("AWS::S3::Bucket")
    assert buckets, "expected the media and search-index buckets"
    policies = variant.of_type("AWS::S3::BucketPolicy").values()
    for bucket_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}, bucket_id
        (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, bucket_id
        statements = [
            s for p in policies if p["Properties"]["Bucket"] == {"Ref": bucket_id} for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]  # fmt: skip
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        ), bucket_id


def _nag_report(variant) -> dict:
    report = json.loads((variant.outdir / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return nag


def test_cdk_nag_ran_and_passed(variant) -> None:
    # app.synth() already raised if anything was unacknowledged; the report says what was checked.
    nag = _nag_report(variant)
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []


def test_every_acknowledgement_has_a_reason(variant) -> None:
    suppressed = _nag_report(variant)["suppressedViolations"]
    assert suppressed, "expected the documented acknowledgements (L1, IAM4, IAM5, APIG1, APIG4, …)"
    for violation in suppressed:
        assert len(violation["reason"]) > 40, violation["acknowledgedId"]


def test_no_blanket_acknowledgements(variant) -> None:
    # Acknowledged where the finding arises, never for the whole stack or app.
    stack_path = variant.stack.node.path
    for violation in _nag_report(variant)["suppressedViolations"]:
        assert violation["acknowledgedAt"].startswith(stack_path + "/"), violation["acknowledgedAt"]


@pytest.mark.skipif(not CDK_CLI.exists(), reason="pinned CDK CLI not installed (npm ci)")
def test_pinned_cli_reads_the_cloud_assembly(full) -> None:
    # The CLI refuses assemblies newer than it knows (npm's "latest" 3.0.0 does): package.json's pin must not.
    result = subprocess.run(
        [str(CDK_CLI), "ls", "--app", str(full.outdir)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [full.stack.stack_name]
