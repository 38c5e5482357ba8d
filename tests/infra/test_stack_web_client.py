"""`-c web=true` deploys the web client: web/dist in a private bucket read only by CloudFront (origin access
control), with a config.json of the stack's own API URLs. Without the flag none of it exists; with or
without it, the local-only sign-in route does not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import lint

from tests.infra.conftest import Synth, synthesize

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    subprocess.run(["bash", str(REPO_ROOT / "web" / "build.sh")], check=True)
    return synthesize(tmp_path_factory.mktemp("cdk-web"), web="true")


def test_without_the_flag_there_is_no_web_client(full):
    assert not full.of_type("AWS::CloudFront::Distribution")
    assert not full.of_type("Custom::CDKBucketDeployment")
    assert "WebClientUrl" not in full.template["Outputs"]


def test_the_bucket_is_private_and_only_cloudfront_reads_it(web):
    (distribution_id,) = web.of_type("AWS::CloudFront::Distribution")
    (oac,) = web.of_type("AWS::CloudFront::OriginAccessControl").values()
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    (bucket_id, bucket), *_ = [(k, v) for k, v in web.of_type("AWS::S3::Bucket").items() if k.startswith("Web")]
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (policy,) = [p for p in web.of_type("AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    reads = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert len(reads) == 1 and reads[0]["Action"] == "s3:GetObject"
    assert distribution_id in web.refs(reads[0]["Condition"]["StringEquals"]["AWS:SourceArn"])  # this distribution only


def test_the_distribution_serves_the_client_over_https(web):
    (distribution,) = web.of_type("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (origin,) = config["Origins"]
    assert "OriginAccessControlId" in origin and origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert "WebClientUrl" in web.template["Outputs"]


def test_config_json_holds_the_stacks_api_urls_and_no_sign_in(web):
    (deployment,) = web.of_type("Custom::CDKBucketDeployment").values()
    markers = json.dumps(deployment["Properties"]["SourceMarkers"])
    apis = web.of_type("AWS::ApiGatewayV2::Api")
    assert {a["Properties"]["ProtocolType"] for a in apis.values()} == {"HTTP", "WEBSOCKET"}
    assert set(apis) <= web.refs(deployment["Properties"]["SourceMarkers"])  # both APIs' URLs, at deploy time
    assert "/api/v1" in markers and "wss://" in markers
    assert deployment["Properties"]["DistributionPaths"] == ["/*"]  # a deploy invalidates the old build
    staged = [p for p in web.outdir.glob("asset.*") if (p / "index.html").is_file()]
    assert len(staged) == 1
    assert {"index.html", "app.js", "style.css"} <= {p.name for p in staged[0].iterdir()}
    assert not list(staged[0].glob(".parley-*")) and not (staged[0] / "config.json").exists()


@pytest.mark.parametrize("name", ["full", "minimal", "web"])
def test_no_template_has_the_local_sign_in(request, name):
    synth = request.getfixturevalue(name)
    text = json.dumps(synth.template)
    assert "sign-in" not in text and "sign_in" not in text
    route_keys = [r["Properties"]["RouteKey"] for r in synth.of_type("AWS::ApiGatewayV2::Route").values()]
    assert route_keys and not [k for k in route_keys if "local" in k]


def test_the_web_variant_is_cfn_lint_and_cdk_nag_clean(web):
    template = (web.outdir / f"{web.stack.stack_name}.template.json").read_text()
    findings = [m for m in lint(template, regions=["us-east-1", "eu-west-1"]) if m.rule.id != "W3005"]
    assert findings == [], "\n".join(str(m) for m in findings)
    report = json.loads((web.outdir / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    for violation in nag["suppressedViolations"]:
        assert len(violation["reason"]) > 40, violation["acknowledgedId"]
