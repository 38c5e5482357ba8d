"""What every Parley bucket is: private (all public access blocked), encrypted with S3-managed keys, TLS only."""

from __future__ import annotations

from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge


def private_bucket(scope: Construct, construct_id: str, *, why_no_access_logs: str, **options) -> s3.Bucket:
    """A bucket with Parley's baseline; `options` are the rest of s3.Bucket's (removal policy, CORS, …).
    Server access logs would need a log bucket per stack: say why this one goes without (cdk-nag's S1)."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        **options,
    )
    acknowledge(bucket, "AwsSolutions-S1", why_no_access_logs)
    return bucket
