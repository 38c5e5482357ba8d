"""The bucket of the per-user search indexes (shared/storage/repositories/search_indexes.py): private, encrypted,
reached only by the functions granted it. Its objects are derived data, rebuilt from the messages if lost."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.constructs.buckets import private_bucket


class SearchIndexBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            why_no_access_logs="Only Parley's own functions read and write this derived data; server access logs "
            "would need a second bucket per stack. Enable CloudTrail S3 data events if wanted.",
            versioned=False,  # every consumer batch rewrites an object: old versions would only cost
            # Retained like the tables: emptying it on `cdk destroy` would need a custom resource.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
