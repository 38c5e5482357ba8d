"""The web client (web/dist) in a private S3 bucket behind CloudFront (origin access control), with a
config.json holding the stack's API and WebSocket URLs. Deployed only with `-c web=true`.

No sign-in route exists here (that is `parley local`'s alone): the deployed client asks for a token."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs.buckets import private_bucket
from infra.constructs.nag import acknowledge, logical_id

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


class WebClientHosting(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, http_api_url: str, websocket_url: str) -> None:
        super().__init__(scope, construct_id)
        if not (WEB_DIST / "index.html").is_file():
            raise RuntimeError(f"-c web=true deploys {WEB_DIST}, which is not built: run `bash web/build.sh` first")

        self.bucket = private_bucket(
            self,
            "Bucket",
            why_no_access_logs="The bucket holds the public build output of web/ only, read by CloudFront through "
            "origin access control; server access logs would need a second bucket. Enable CloudFront standard logs "
            "if wanted.",
            # Build output, redeployed from web/ at will: nothing in it is worth keeping.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Parley web client",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        s3deploy.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(WEB_DIST), exclude=[".parley-*", "config.json"]),
                # Resolved at deploy time: the stack's own URLs (no sign_in_url: there is no sign-in here).
                s3deploy.Source.json_data("config.json", {"api_url": http_api_url, "ws_url": websocket_url}),
            ],
            # The file names don't change between builds: a deploy invalidates them all at once.
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )
        self.url = f"https://{self.distribution.distribution_domain_name}/"
        self._acknowledge()

    def _acknowledge(self) -> None:
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "A chat client for any user of the deployment: no geographic restriction is wanted by default.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "Static files only (no API behind this distribution: the APIs are API Gateway's, rate limited "
            "there); attach a WAF web ACL per deployment if wanted.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            "Access logs of static files would need a log bucket with ACLs per stack; enable standard "
            "logging per deployment if wanted.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate lets viewers negotiate TLSv1 (CloudFront's rule for its "
            "own certificate); give the distribution a custom domain and ACM certificate to require TLSv1.2.",
        )
        # The BucketDeployment's function is CDK's own custom resource provider (one per stack).
        provider = next(
            c for c in cdk.Stack.of(self).node.children if c.node.id.startswith("Custom::CDKBucketDeployment")
        )
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's BucketDeployment provider writes its logs through the basic execution role.",
        )
        wildcards = {
            "Action::s3:GetBucket*": "read the staged asset",
            "Action::s3:GetObject*": "read the staged asset",
            "Action::s3:List*": "list the asset and the bucket it syncs",
            "Action::s3:Abort*": "copy into the web bucket",
            "Action::s3:DeleteObject*": "remove files a new build no longer has",
            "Resource::*": "create the CloudFront invalidation (CloudFront has no resource-level scope for it)",
            "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*": "read the staged asset",
            f"Resource::<{logical_id(self.bucket)}.Arn>/*": "write every file of the build",
        }
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "CDK's BucketDeployment provider pins the runtime its bundled AWS CLI layer works with; it runs "
            "only while deploying.",
        )
        for finding, why in wildcards.items():
            acknowledge(provider, f"AwsSolutions-IAM5[{finding}]", f"CDK's BucketDeployment provider's grant to {why}.")
