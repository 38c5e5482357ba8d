"""Every Route in shared/routes.py has its function and its API route, wired as the table says."""

from __future__ import annotations

import pytest

from shared.resources import (
    JWKS_URL_ENV,
    JWT_SECRET_ARN_ENV,
    REDIS_URL_ENV,
    TABLE_ENV,
    WEBSOCKET_STAGE,
    WS_MANAGEMENT_URL_ENV,
)
from shared.routes import HTTP_ROUTES, ROUTES, WEBSOCKET_ROUTES, WS_ROUTE_SELECTION, authorizer_for

pytestmark = pytest.mark.infra


def _api(synth, protocol: str) -> str:
    (api_id,) = [
        k for k, v in synth.of_type("AWS::ApiGatewayV2::Api").items() if v["Properties"]["ProtocolType"] == protocol
    ]
    return api_id


def _routes(synth, api_id: str) -> dict[str, dict]:
    """RouteKey -> route properties, for one API."""
    routes = [v["Properties"] for v in synth.of_type("AWS::ApiGatewayV2::Route").values()]
    return {r["RouteKey"]: r for r in routes if r["ApiId"] == {"Ref": api_id}}


def _integrated_function(synth, route: dict) -> str:
    (integration_id,) = synth.refs(route["Target"])
    integration = synth.resources[integration_id]["Properties"]
    (function_id,) = synth.get_att_targets(integration["IntegrationUri"])
    return function_id


def _authorizer_function(synth, authorizer_id: str) -> str:
    (function_id,) = synth.get_att_targets(synth.resources[authorizer_id]["Properties"]["AuthorizerUri"])
    return function_id


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_each_route_has_its_function(full, route) -> None:
    _, function = full.function(route.handler)
    props = function["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == route.memory_mb
    assert props["Timeout"] == route.timeout_seconds
    assert len(props["Layers"]) == 2  # dependencies + shared
    assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "parley"


def test_no_function_without_a_route(variant) -> None:
    handlers = {v["Properties"]["Handler"] for v in variant.of_type("AWS::Lambda::Function").values()}
    # The only other function is CDK's own custom resource (it restricts the VPC's default security group).
    assert {h for h in handlers if h.startswith("functions.")} == {r.handler for r in ROUTES}


@pytest.mark.parametrize("route", HTTP_ROUTES, ids=lambda r: r.name)
def test_http_route_is_integrated_and_authorized(full, route) -> None:
    api_id = _api(full, "HTTP")
    api_route = _routes(full, api_id)[route.key]
    function_id, _ = full.function(route.handler)
    assert _integrated_function(full, api_route) == function_id
    if route.public:  # the OpenAPI document: anyone may read it
        assert api_route["AuthorizationType"] == "NONE" and "AuthorizerId" not in api_route
        return
    assert api_route["AuthorizationType"] == "CUSTOM"
    (authorizer_id,) = full.refs(api_route["AuthorizerId"])
    assert _authorizer_function(full, authorizer_id) == full.function(authorizer_for("http").handler)[0]


def test_http_api_has_only_the_table_routes(full) -> None:
    assert set(_routes(full, _api(full, "HTTP"))) == {r.key for r in HTTP_ROUTES}


def test_authorizers(full) -> None:
    full.assertions.resource_count_is("AWS::ApiGatewayV2::Authorizer", 2)
    full.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "ApiId": {"Ref": _api(full, "HTTP")},
            "AuthorizerType": "REQUEST",
            "EnableSimpleResponses": True,
            "AuthorizerPayloadFormatVersion": "2.0",
            "IdentitySource": ["$request.header.Authorization"],
            "AuthorizerResultTtlInSeconds": 60,
        },
    )
    full.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "ApiId": {"Ref": _api(full, "WEBSOCKET")},
            "AuthorizerType": "REQUEST",
            "IdentitySource": ["route.request.querystring.token"],
        },
    )


@pytest.mark.parametrize("route", WEBSOCKET_ROUTES, ids=lambda r: r.name)
def test_websocket_route_is_integrated(full, route) -> None:
    api_route = _routes(full, _api(full, "WEBSOCKET"))[route.key]
    function_id, _ = full.function(route.handler)
    assert _integrated_function(full, api_route) == function_id
    if route.key == "$connect":
        assert api_route["AuthorizationType"] == "CUSTOM"
        (authorizer_id,) = full.refs(api_route["AuthorizerId"])
        authorizer = full.resources[authorizer_id]["Properties"]
        assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
        assert _authorizer_function(full, authorizer_id) == full.function(authorizer_for("websocket").handler)[0]
    else:
        assert api_route.get("AuthorizationType", "NONE") == "NONE"
        assert "AuthorizerId" not in api_route


@pytest.mark.parametrize("route", WEBSOCKET_ROUTES, ids=lambda r: r.name)
def test_websocket_two_way_routes(full, route) -> None:
    api_route_id = next(
        k
        for k, v in full.of_type("AWS::ApiGatewayV2::Route").items()
        if v["Properties"]["RouteKey"] == route.key and v["Properties"]["ApiId"] == {"Ref": _api(full, "WEBSOCKET")}
    )
    responses = [
        v["Properties"]
        for v in full.of_type("AWS::ApiGatewayV2::RouteResponse").values()
        if v["Properties"]["RouteId"] == {"Ref": api_route_id}
    ]
    if route.returns_response:
        assert [r["RouteResponseKey"] for r in responses] == ["$default"]
        assert full.resources[api_route_id]["Properties"]["RouteResponseSelectionExpression"] == "$default"
    else:
        assert responses == []


def test_websocket_api_and_stage(full) -> None:
    api_id = _api(full, "WEBSOCKET")
    assert full.resources[api_id]["Properties"]["RouteSelectionExpression"] == WS_ROUTE_SELECTION
    assert set(_routes(full, api_id)) == {r.key for r in WEBSOCKET_ROUTES}
    stages = {v["Properties"]["StageName"]: v["Properties"] for v in full.of_type("AWS::ApiGatewayV2::Stage").values()}
    assert set(stages) == {"$default", WEBSOCKET_STAGE}
    for stage in stages.values():
        assert stage["AutoDeploy"] is True
        assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
        assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_environment_follows_the_route(variant, route) -> None:
    _, function = variant.function(route.handler)
    env = function["Properties"]["Environment"]["Variables"]
    table_vars = {name for name in env if name in TABLE_ENV.values()}
    assert table_vars == {TABLE_ENV[t] for t in route.tables}
    for logical in route.tables:
        assert env[TABLE_ENV[logical]] == {"Ref": variant.logical_id(variant.stack.tables[logical])}
    redis_on = variant.stack.cache is not None
    assert (REDIS_URL_ENV in env) == (route.uses_redis and redis_on)
    if REDIS_URL_ENV in env:
        assert env[REDIS_URL_ENV]["Fn::Join"][1][0] == "rediss://"  # serverless caches require TLS
    assert (WS_MANAGEMENT_URL_ENV in env) == route.manages_connections
    if route.manages_connections:
        url = env[WS_MANAGEMENT_URL_ENV]["Fn::Join"][1]
        assert url[0] == "https://" and url[1] == {"Ref": _api(variant, "WEBSOCKET")} and url[-1] == "/prod"
    jwks = variant.stack.settings.jwt.jwks_url is not None
    assert (JWT_SECRET_ARN_ENV in env) == (route.reads_jwt_secret and not jwks)
    assert env.get(JWKS_URL_ENV) == (variant.stack.settings.jwt.jwks_url if route.reads_jwt_secret else None)


def test_outputs(variant) -> None:
    outputs = variant.template["Outputs"]
    assert {"HttpApiUrl", "WebSocketUrl", "WebSocketManagementUrl"} <= set(outputs)
    assert ("JwtSecretArn" in outputs) == (variant.stack.settings.jwt.jwks_url is None)
