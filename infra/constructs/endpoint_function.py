"""One Lambda function per route, with exactly the environment and permissions its Route declares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.auth import JwtVerification
from infra.constructs.cache import Cache
from infra.constructs.data import has_indexes
from infra.constructs.layers import ARCHITECTURE, RUNTIME
from infra.constructs.media import MediaStorage
from infra.constructs.nag import acknowledge, logical_id
from shared.resources import (
    LOG_LEVEL_ENV,
    MEDIA_BUCKET_ENV,
    REDIS_URL_ENV,
    SEARCH_BUCKET_ENV,
    SERVICE_NAME,
    TABLE_ENV,
    WS_MANAGEMENT_URL_ENV,
)
from shared.routes import Route



@dataclass(frozen=True)
class FunctionDependencies:
    """What every endpoint function may be given; each takes only what its Route asks for."""

    code: lambda_.Code
    layers: Sequence[lambda_.ILayerVersion]
    tables: Mapping[str, dynamodb.ITable]
    websocket_stage: apigwv2.WebSocketStage
    jwt: JwtVerification
    cache: Cache | None  # None when deployed without Redis
    media: MediaStorage
    search_bucket: s3.IBucket  # the per-user search indexes
    # X-Ray active tracing (context flag `tracing`): Lambda records each invocation and its init phase.
    # No tracing SDK in the functions: Powertools Tracer (aws-xray-sdk) would add ~200 ms to every cold start.
    tracing: bool = False


class EndpointFunction(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, route: Route, deps: FunctionDependencies) -> None:
        super().__init__(scope, construct_id)
        self.route = route
        in_vpc = route.uses_redis and deps.cache is not None
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"Parley {route.api} {route.key}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=route.handler,
            code=deps.code,
            layers=list(deps.layers),
            memory_size=route.memory_mb,
            timeout=cdk.Duration.seconds(route.timeout_seconds),
            environment=_environment(route, deps),
            log_group=logs.LogGroup(
                self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=cdk.RemovalPolicy.DESTROY
            ),
            tracing=lambda_.Tracing.ACTIVE if deps.tracing else lambda_.Tracing.DISABLED,
            vpc=deps.cache.vpc if in_vpc else None,
            vpc_subnets=deps.cache.function_subnets if in_vpc else None,
            security_groups=[deps.cache.function_security_group] if in_vpc else None,
        )
        for logical, actions in route.tables.items():
            # Exactly the actions the route's code calls (shared/routes.py); Table.grant covers its indexes.
            deps.tables[logical].grant(self.function, *(f"dynamodb:{action}" for action in sorted(actions)))
        if route.manages_connections:
            # POST/GET/DELETE on this stage's @connections only.
            deps.websocket_stage.grant_management_api_access(self.function)
        if route.reads_jwt_secret:
            deps.jwt.grant_read(self.function)
        if route.search_indexes == "read":
            deps.search_bucket.grant_read(self.function)
        elif route.search_indexes == "read_write":
            deps.search_bucket.grant_read_write(self.function)
        if route.media_bucket:
            deps.media.grant(self.function, route)
        self._acknowledge_findings(deps, in_vpc)

    def _acknowledge_findings(self, deps: FunctionDependencies, in_vpc: bool) -> None:
        acknowledge(
            self,
            "AwsSolutions-L1",
            "Python 3.13 on purpose: the layer is built for cp313 and development and tests run on 3.13.",
        )
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AWS-maintained Lambda logging policy (CreateLogStream/PutLogEvents), kept current by AWS.",
        )
        if deps.tracing:
            acknowledge(
                self,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments/PutTelemetryRecords accept no resource narrower than '*'.",
            )
        if in_vpc:
            acknowledge(
                self,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
                "AWS-maintained policy Lambda needs to attach the function to the cache's VPC (ENI management).",
            )
        for logical in self.route.tables:
            if has_indexes(logical):
                acknowledge(
                    self,
                    f"AwsSolutions-IAM5[Resource::<{logical_id(deps.tables[logical])}.Arn>/index/*]",
                    f"The {logical} table's own indexes, which the route queries (grant_*_data covers them).",
                )
        if self.route.search_indexes:
            acknowledge(
                self,
                "AwsSolutions-IAM5[Action::s3:GetObject*]",
                "Reads the search index objects (one per user, keys known only at run time).",
            )
            for finding in ("Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*"):
                acknowledge(self, f"AwsSolutions-IAM5[{finding}]", "Bucket.grant_read/grant_read_write's own action set.")
            acknowledge(
                self,
                f"AwsSolutions-IAM5[Resource::<{logical_id(deps.search_bucket)}.Arn>/*]",
                "Every user's index object: the function reads (and the indexer writes) whichever user's it serves.",
            )
        if self.route.manages_connections:
            acknowledge(
                self,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
                f"<{logical_id(deps.websocket_stage.api)}>/{deps.websocket_stage.stage_name}/*/@connections/*]",
                "Push to any live connection of this API's stage: connection ids are only known at run time.",
            )


def _environment(route: Route, deps: FunctionDependencies) -> dict[str, str]:
    env = {"POWERTOOLS_SERVICE_NAME": SERVICE_NAME, LOG_LEVEL_ENV: "INFO"}
    # Only the tables the route may touch: a name the function has no grant for would only mislead.
    env.update({TABLE_ENV[logical]: deps.tables[logical].table_name for logical in route.tables})
    if route.uses_redis and deps.cache is not None:
        env[REDIS_URL_ENV] = deps.cache.url
    if route.manages_connections:
        # https://{api-id}.execute-api.{region}.{url-suffix}/{stage}: the management API's base URL.
        env[WS_MANAGEMENT_URL_ENV] = deps.websocket_stage.callback_url
    if route.reads_jwt_secret:
        env.update(deps.jwt.environment)
    if route.search_indexes:
        env[SEARCH_BUCKET_ENV] = deps.search_bucket.bucket_name
    if route.media_bucket:
        env[MEDIA_BUCKET_ENV] = deps.media.bucket.bucket_name
    return env
