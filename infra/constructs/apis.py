"""The HTTP API and the WebSocket API, with one route per entry of shared/routes.py.

The APIs and their stages are made first, because the functions need the WebSocket stage (management
URL, @connections grant); the routes are attached once the functions exist (`add_routes`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs import pascal_case
from infra.constructs.nag import acknowledge
from shared.resources import CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS, WEBSOCKET_STAGE
from shared.routes import HTTP_ROUTES, WEBSOCKET_ROUTES, WS_ROUTE_SELECTION, authorizer_for

# Per stage, across all clients; API Gateway answers 429 above it. Room for the brief's 1,000 messages/s
# plus the reads around them, under the account's default 10,000 rps; per-user limits are Parley's own.
HTTP_THROTTLE = apigwv2.ThrottleSettings(rate_limit=3000, burst_limit=5000)
WEBSOCKET_THROTTLE = apigwv2.ThrottleSettings(rate_limit=3000, burst_limit=5000)
# An HTTP authorizer's answer is cached per Authorization header: a token stays accepted up to this
# long after it expires or is revoked. (WebSocket authorizers are not cached; they run once per connect.)
AUTHORIZER_CACHE_TTL = cdk.Duration.seconds(60)


class Apis(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cors_origins: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="Parley HTTP API (/api/v1)",
            create_default_stage=False,  # made below, with throttling and access logs
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=list(cors_origins),
                allow_headers=list(CORS_ALLOW_HEADERS),
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                expose_headers=list(CORS_EXPOSE_HEADERS),
                max_age=cdk.Duration.seconds(CORS_MAX_AGE_SECONDS),
            ),
        )
        self.http_stage = apigwv2.HttpStage(
            self,
            "HttpStage",
            http_api=self.http_api,
            auto_deploy=True,
            throttle=HTTP_THROTTLE,
            access_log_settings=_JsonAccessLogs(
                logs.LogGroup(
                    self,
                    "HttpAccessLogs",
                    retention=logs.RetentionDays.ONE_MONTH,
                    removal_policy=cdk.RemovalPolicy.DESTROY,
                )
            ),
        )
        self.websocket_api = apigwv2.WebSocketApi(
            self, "WebSocketApi", description="Parley WebSocket API", route_selection_expression=WS_ROUTE_SELECTION
        )
        self.websocket_stage = apigwv2.WebSocketStage(
            self,
            "WebSocketStage",
            web_socket_api=self.websocket_api,
            stage_name=WEBSOCKET_STAGE,
            auto_deploy=True,
            throttle=WEBSOCKET_THROTTLE,
        )
        acknowledge(
            self.websocket_stage,
            "AwsSolutions-APIG1",
            "WebSocket access logs need the account-wide API Gateway CloudWatch role, which one stack should "
            "not own; function logs record every route. Enable it per account if wanted (see README).",
        )

    def add_routes(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        """One route per Route, integrated with the function built for it (by Route.name)."""
        http_authorizer = authorizers.HttpLambdaAuthorizer(
            "HttpAuthorizer",
            functions[authorizer_for("http").name],
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=["$request.header.Authorization"],
            results_cache_ttl=AUTHORIZER_CACHE_TTL,
        )
        for route in HTTP_ROUTES:
            http_route = apigwv2.HttpRoute(
                self,
                f"Http{pascal_case(route.name)}",
                http_api=self.http_api,
                route_key=apigwv2.HttpRouteKey.with_(route.path, apigwv2.HttpMethod(route.method)),
                integration=integrations.HttpLambdaIntegration(route.name, functions[route.name]),
                authorizer=None if route.public else http_authorizer,
            )
            if route.public:
                acknowledge(http_route, "AwsSolutions-APIG4", "Public on purpose: the API's OpenAPI document, no data.")

        # A missing ?token= is refused by API Gateway itself (401) before the authorizer runs.
        websocket_authorizer = authorizers.WebSocketLambdaAuthorizer(
            "WebSocketAuthorizer",
            functions[authorizer_for("websocket").name],
            identity_source=["route.request.querystring.token"],
        )
        for route in WEBSOCKET_ROUTES:
            ws_route = self.websocket_api.add_route(
                route.key,
                integration=integrations.WebSocketLambdaIntegration(route.name, functions[route.name]),
                # API Gateway runs authorizers on $connect only; later frames ride on that connection.
                authorizer=websocket_authorizer if route.key == "$connect" else None,
                # Two-way route: the handler's response body is sent back on the socket.
                return_response=route.returns_response or None,
            )
            if route.key != "$connect":
                acknowledge(
                    ws_route,
                    "AwsSolutions-APIG4",
                    "WebSocket APIs authorize on $connect only; this route runs on a connection that passed it.",
                )


@jsii.implements(apigwv2.IAccessLogSettings)
class _JsonAccessLogs:
    """One JSON line per request, for Logs Insights. (IAccessLogSettings is an interface, not a struct.)"""

    FIELDS = {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    }

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(json.dumps(self.FIELDS))
