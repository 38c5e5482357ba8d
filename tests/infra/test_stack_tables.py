"""The template's tables are the PynamoDB models: keys, attribute types, indexes and projections."""

from __future__ import annotations

import pytest

from shared.storage.tables import TABLE_MODELS, TTL_ATTRIBUTES, stream_view_type

pytestmark = pytest.mark.infra


def _key_schema(keys: list[dict]) -> list[tuple[str, str]]:
    # Order-free: PynamoDB lists keys by attribute, CloudFormation HASH first.
    return sorted((k["KeyType"], k["AttributeName"]) for k in keys)


def _attributes(definitions: list[dict]) -> set[tuple[str, str]]:
    return {(a["AttributeName"], a["AttributeType"]) for a in definitions}


def _projection(projection: dict) -> tuple[str, list[str]]:
    return projection["ProjectionType"], sorted(projection.get("NonKeyAttributes", []))


def _table(synth, logical: str) -> dict:
    resource = synth.resources[synth.logical_id(synth.stack.tables[logical])]
    assert resource["Type"] == "AWS::DynamoDB::Table"
    return resource


def test_one_table_per_model(variant) -> None:
    assert len(variant.of_type("AWS::DynamoDB::Table")) == len(TABLE_MODELS)
    assert set(variant.stack.tables) == set(TABLE_MODELS)


@pytest.mark.parametrize("logical", sorted(TABLE_MODELS))
def test_table_matches_its_model(full, logical: str) -> None:
    schema = TABLE_MODELS[logical]._get_schema()
    resource = _table(full, logical)
    props = resource["Properties"]
    assert props["KeySchema"][0]["KeyType"] == "HASH"
    assert _key_schema(props["KeySchema"]) == _key_schema(schema["key_schema"])
    assert _attributes(props["AttributeDefinitions"]) == _attributes(schema["attribute_definitions"])
    expected_indexes = {
        index["index_name"]: (_key_schema(index["key_schema"]), _projection(index["projection"]))
        for index in schema["global_secondary_indexes"]
    }
    actual_indexes = {
        index["IndexName"]: (_key_schema(index["KeySchema"]), _projection(index["Projection"]))
        for index in props.get("GlobalSecondaryIndexes", [])
    }
    assert actual_indexes == expected_indexes
    assert "LocalSecondaryIndexes" not in props and not schema["local_secondary_indexes"]


@pytest.mark.parametrize("logical", sorted(TABLE_MODELS))
def test_table_operations(full, logical: str) -> None:
    resource = _table(full, logical)
    props = resource["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"
    if stream_view_type(logical):
        assert props["StreamSpecification"] == {"StreamViewType": stream_view_type(logical)}
    else:
        assert "StreamSpecification" not in props
    if logical in TTL_ATTRIBUTES:
        assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTES[logical], "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


def test_connections_and_events_expire() -> None:
    assert TTL_ATTRIBUTES.get("connections")  # API Gateway drops connections after 2 h; TTL sweeps leftovers
    assert TTL_ATTRIBUTES.get("events")  # the event log's retention


def test_the_consumed_tables_stream_both_images() -> None:
    assert stream_view_type("messages") == stream_view_type("user_conversations") == "NEW_AND_OLD_IMAGES"
