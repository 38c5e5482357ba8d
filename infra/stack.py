"""The Parley stack: a thin composition of the constructs in infra/constructs/."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct, Node

from infra.constructs import pascal_case
from infra.constructs.apis import Apis
from infra.constructs.auth import JwtSettings, JwtVerification
from infra.constructs.cache import Cache
from infra.constructs.data import DataTables
from infra.constructs.endpoint_function import EndpointFunction, FunctionDependencies
from infra.constructs.layers import RuntimeLayers, function_code
from infra.constructs.media import MediaStorage
from infra.constructs.monitoring import Monitoring
from infra.constructs.search import SearchIndexBucket
from infra.constructs.triggers import Triggers
from shared.routes import ROUTES, Route


@dataclass(frozen=True)
class ParleySettings:
    """The deploy-time choices, read once from CDK context (cdk.json or `cdk synth -c key=value`)."""

    redis: bool = True
    retain_data: bool = True  # tables survive `cdk destroy` (false: for throwaway stacks)
    tracing: bool = False  # X-Ray active tracing on every function (costs cold start: see README)
    jwt: JwtSettings = field(default_factory=JwtSettings)
    cors_origins: tuple[str, ...] = ("*",)
    web: bool = False  # the web client (web/dist) on S3 + CloudFront

    @classmethod
    def from_context(cls, node: Node) -> ParleySettings:
        origins = node.try_get_context("cors_origins") or "*"
        return cls(
            redis=_flag(node.try_get_context("redis"), default=True, name="redis"),
            retain_data=_flag(node.try_get_context("retain_data"), default=True, name="retain_data"),
            tracing=_flag(node.try_get_context("tracing"), default=False, name="tracing"),
            web=_flag(node.try_get_context("web"), default=False, name="web"),
            jwt=JwtSettings(
                jwks_url=node.try_get_context("jwks_url") or None,
                issuer=node.try_get_context("jwt_issuer") or None,
                audience=node.try_get_context("jwt_audience") or None,
            ),
            cors_origins=tuple(origins) if isinstance(origins, list) else tuple(origins.split(",")),
        )


class ParleyStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ParleySettings,
        routes: Sequence[Route] = ROUTES,  # tests add throwaway trigger routes
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, description="Parley: serverless 1-on-1 messaging", **kwargs)
        self.settings = settings
        data = DataTables(self, "Data", retain=settings.retain_data)
        self.tables = data.tables
        self.cache = Cache(self, "Cache") if settings.redis else None
        layers = RuntimeLayers(self, "Layers")
        jwt = JwtVerification(self, "Auth", settings=settings.jwt)
        apis = Apis(self, "Apis", cors_origins=settings.cors_origins)
        self.media = MediaStorage(self, "Media", cors_origins=settings.cors_origins)

        deps = FunctionDependencies(
            code=function_code(),
            layers=layers.all,
            tables=data.tables,
            websocket_stage=apis.websocket_stage,
            jwt=jwt,
            cache=self.cache,
            media=self.media,
            search_bucket=SearchIndexBucket(self, "Search").bucket,
            tracing=settings.tracing,
        )
        functions = Construct(self, "Functions")
        self.functions = {
            route.name: EndpointFunction(functions, pascal_case(route.name), route=route, deps=deps) for route in routes
        }
        apis.add_routes({name: endpoint.function for name, endpoint in self.functions.items()})
        self.triggers = Triggers(
            self,
            "Triggers",
            routes=[route for route in routes if route.is_trigger],
            functions={name: endpoint.function for name, endpoint in self.functions.items()},
            tables=data.tables,
            media=self.media,
        )
        Monitoring(
            self,
            "Monitoring",
            http_api=apis.http_api,
            websocket_api=apis.websocket_api,
            websocket_stage=apis.websocket_stage,
        )

        cdk.CfnOutput(self, "HttpApiUrl", value=f"{apis.http_stage.url}api/v1", description="HTTP API base URL")
        cdk.CfnOutput(self, "WebSocketUrl", value=apis.websocket_stage.url, description="connect with ?token=<JWT>")
        cdk.CfnOutput(
            self, "WebSocketManagementUrl", value=apis.websocket_stage.callback_url, description="@connections API"
        )
        if settings.web:
            from infra.constructs.web_client import WebClientHosting

            web = WebClientHosting(
                self, "Web", http_api_url=f"{apis.http_stage.url}api/v1", websocket_url=apis.websocket_stage.url
            )
            cdk.CfnOutput(self, "WebClientUrl", value=web.url, description="the web client (CloudFront)")
        if jwt.secret is not None:
            cdk.CfnOutput(self, "JwtSecretArn", value=jwt.secret.secret_arn, description="HS256 key for user JWTs")


def _flag(value: object, *, default: bool, name: str) -> bool:
    # cdk.json gives booleans, `-c redis=false` gives strings.
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"context {name} must be true or false, got {value!r}")
