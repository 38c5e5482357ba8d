"""Least privilege: each function's policy names exactly the tables, DynamoDB actions and APIs its Route lists."""

from __future__ import annotations

import pytest

from shared.routes import ROUTES

pytestmark = pytest.mark.infra

# Granted by a stream trigger's event source mapping, not by the route's `tables`.
STREAM_READS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}


def _actions(statement: dict) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _table_actions(synth, function_id: str) -> dict[str, set[str]]:
    """Table logical id -> DynamoDB actions the function's policies allow on it (or its indexes)."""
    granted: dict[str, set[str]] = {}
    for statement in synth.role_policies(function_id):
        dynamo = {a for a in _actions(statement) if a.startswith("dynamodb:") and a not in STREAM_READS}
        if dynamo:
            assert statement["Effect"] == "Allow"
            for table_id in synth.get_att_targets(statement["Resource"]):
                granted.setdefault(table_id, set()).update(dynamo)
    return granted


def _all_actions(synth, function_id: str) -> set[str]:
    return {a for statement in synth.role_policies(function_id) for a in _actions(statement)}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_function_reaches_only_its_tables(variant, route) -> None:
    function_id, _ = variant.function(route.handler)
    granted = _table_actions(variant, function_id)
    expected_ids = {
        variant.logical_id(variant.stack.tables[t]): {f"dynamodb:{a}" for a in actions}
        for t, actions in route.tables.items()
    }
    # Exactly the actions the route declares (tests/component/test_grants.py: exactly what its code calls).
    assert granted == expected_ids
    # No DynamoDB statement may reach beyond the listed tables (e.g. a "*" resource).
    for statement in variant.role_policies(function_id):
        if any(a.startswith("dynamodb:") and a not in STREAM_READS for a in _actions(statement)):
            assert variant.get_att_targets(statement["Resource"]) <= set(expected_ids)
            assert "*" not in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_only_a_stream_route_reads_a_stream_and_only_its_tables(variant, route) -> None:
    function_id, _ = variant.function(route.handler)
    stream_statements = [s for s in variant.role_policies(function_id) if _actions(s) & STREAM_READS]
    if route.api != "stream":
        assert stream_statements == []
        return
    table_id = variant.logical_id(variant.stack.tables[route.key])
    assert stream_statements
    for statement in stream_statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if _actions(statement) == {"dynamodb:ListStreams"}:
            assert resources == ["*"]  # ListStreams has no resource-level permissions
        else:
            assert _actions(statement) <= STREAM_READS - {"dynamodb:ListStreams"}
            assert resources == [{"Fn::GetAtt": [table_id, "StreamArn"]}]


def test_the_send_reads_connections_from_the_table_itself(full) -> None:
    # Fan-out finds devices by a consistent read of the connections table (no index, no eventual consistency).
    route = next(r for r in ROUTES if r.name == "send_message")
    function_id, _ = full.function(route.handler)
    connections = full.logical_id(full.stack.tables["connections"])
    resources = [
        r
        for s in full.role_policies(function_id)
        if "dynamodb:BatchGetItem" in _actions(s)
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert {"Fn::GetAtt": [connections, "Arn"]} in resources


def test_examples_from_the_brief(full) -> None:
    list_conversations, _ = full.function("functions.list_conversations.handler")
    assert "dynamodb:PutItem" not in _all_actions(full, list_conversations)
    messages = full.logical_id(full.stack.tables["messages"])
    assert messages not in _table_actions(full, list_conversations)

    ws_default, _ = full.function("functions.ws_default.handler")
    assert not any(a.startswith("dynamodb:") for a in _all_actions(full, ws_default))

    send_message, _ = full.function("functions.send_message.handler")
    assert "execute-api:ManageConnections" in _all_actions(full, send_message)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_management_api_only_where_declared(variant, route) -> None:
    function_id, _ = variant.function(route.handler)
    statements = [s for s in variant.role_policies(function_id) if "execute-api:ManageConnections" in _actions(s)]
    assert bool(statements) == route.manages_connections
    for statement in statements:
        resource = statement["Resource"]["Fn::Join"][1]
        # This API's prod stage, @connections only.
        assert {"Ref": variant.logical_id(variant.stack.node.find_child("Apis").websocket_api)} in resource
        assert resource[-1].endswith("/prod/*/@connections/*")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_secret_only_for_authorizers(variant, route) -> None:
    function_id, _ = variant.function(route.handler)
    reads_secret = "secretsmanager:GetSecretValue" in _all_actions(variant, function_id)
    has_secret = variant.stack.settings.jwt.jwks_url is None
    assert reads_secret == (route.reads_jwt_secret and has_secret)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_only_redis_users_are_in_the_vpc(variant, route) -> None:
    _, function = variant.function(route.handler)
    in_vpc = "VpcConfig" in function["Properties"]
    assert in_vpc == (route.uses_redis and variant.stack.cache is not None)
    if in_vpc:
        config = function["Properties"]["VpcConfig"]
        assert len(config["SubnetIds"]) == 2 and config["SecurityGroupIds"]


def test_cache_only_with_redis(full, minimal) -> None:
    assert len(full.of_type("AWS::EC2::VPC")) == 1
    (cache,) = full.of_type("AWS::ElastiCache::ServerlessCache").values()
    assert cache["Properties"]["Engine"] == "valkey"
    # The cache accepts the functions' security group only, on the cache ports.
    (ingress,) = full.of_type("AWS::EC2::SecurityGroupIngress").values()
    assert (ingress["Properties"]["FromPort"], ingress["Properties"]["ToPort"]) == (6379, 6380)
    assert "SourceSecurityGroupId" in ingress["Properties"] and "CidrIp" not in ingress["Properties"]

    for resource_type in ("AWS::EC2::VPC", "AWS::ElastiCache::ServerlessCache", "AWS::EC2::NatGateway"):
        assert minimal.of_type(resource_type) == {}


def test_stack_is_environment_agnostic(full) -> None:
    # No account or region: synth needs no credentials and the template deploys anywhere.
    assert full.stack.environment == "aws://unknown-account/unknown-region"
    subnets = full.of_type("AWS::EC2::Subnet").values()
    assert all("Fn::GetAZs" in str(s["Properties"]["AvailabilityZone"]) for s in subnets)
