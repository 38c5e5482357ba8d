"""The media bucket: private, encrypted, reached only through presigned links; uploads run the media
functions (S3 notifications, one per kind and prefix: infra/constructs/triggers.py); what is never
attached to a message expires."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from infra.constructs.buckets import private_bucket
from infra.constructs.nag import acknowledge
from shared.media.keys import MEDIA_PREFIX, UPLOADS_PREFIX
from shared.storage.repositories.media import UNATTACHED_MEDIA_DAYS
from shared.storage.repositories.media_store import ATTACHED_TAG
from shared.resources import CORS_MAX_AGE_SECONDS, MEDIA_CORS_EXPOSE_HEADERS, MEDIA_CORS_METHODS
from shared.routes import Route


class MediaStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cors_origins: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        self._acknowledged: set[str] = set()
        self.bucket = private_bucket(
            self,
            "Bucket",
            why_no_access_logs="Every object is written by Parley's functions or through a presigned link they issued "
            "for one key; server access logs would need a second bucket per stack. Enable CloudTrail S3 data events "
            "if wanted.",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Users' pictures and files: deleting the stack must not delete them.
            removal_policy=cdk.RemovalPolicy.RETAIN,
            # Browsers post uploads and fetch downloads straight from S3 through presigned links.
            cors=[
                s3.CorsRule(
                    allowed_methods=[getattr(s3.HttpMethods, method) for method in MEDIA_CORS_METHODS],
                    allowed_origins=list(cors_origins),
                    allowed_headers=["*"],
                    exposed_headers=list(MEDIA_CORS_EXPOSE_HEADERS),
                    max_age=CORS_MAX_AGE_SECONDS,
                )
            ],
            lifecycle_rules=[
                # An upload is deleted once judged; one still here was never processed (or failed for good).
                s3.LifecycleRule(
                    id="ExpireUnprocessedUploads",
                    prefix=UPLOADS_PREFIX,
                    expiration=cdk.Duration.days(UNATTACHED_MEDIA_DAYS),
                ),
                # Renditions are tagged attached=no until a message holds them.
                s3.LifecycleRule(
                    id="ExpireUnattachedMedia",
                    prefix=MEDIA_PREFIX,
                    tag_filters={ATTACHED_TAG: "no"},
                    expiration=cdk.Duration.days(UNATTACHED_MEDIA_DAYS),
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteMultipartUploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
            ],
        )

    def grant(self, function: lambda_.IFunction, route: Route) -> None:
        """Exactly the S3 actions the route lists, on the key prefixes it lists."""
        for prefix, actions in route.media_bucket.items():
            function.add_to_role_policy(
                iam.PolicyStatement(actions=list(actions), resources=[self.bucket.arn_for_objects(f"{prefix}*")])
            )
            acknowledge(
                function,
                f"AwsSolutions-IAM5[Resource::<{_bucket_id(self.bucket)}.Arn>/{prefix}*]",
                f"Objects under {prefix}: their keys (media ids) are made at run time.",
            )

    def notify(self, function: lambda_.IFunction, route: Route) -> None:
        """Runs the function for every object created under the route's prefix (infra/constructs/triggers.py
        sets its retries and dead-letter queue)."""
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(function), s3.NotificationKeyFilter(prefix=route.key)
        )
        self._acknowledge_notifications_handler()

    def _acknowledge_notifications_handler(self) -> None:
        # CDK's own function that writes the bucket's notification configuration at deploy time.
        stack = cdk.Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("BucketNotificationsHandler") and child.node.id not in self._acknowledged:
                self._acknowledged.add(child.node.id)
                acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "CDK's bucket-notifications handler (deploy time only): AWS-maintained logging policy.",
                )
                acknowledge(
                    child,
                    "AwsSolutions-IAM5[Resource::*]",
                    "CDK's bucket-notifications handler: s3:PutBucketNotification, as CDK generates it.",
                )


def _bucket_id(bucket: s3.Bucket) -> str:
    return cdk.Stack.of(bucket).resolve(bucket.node.default_child.logical_id)
