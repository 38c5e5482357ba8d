"""The DynamoDB tables, built from the PynamoDB models in shared/storage/tables.py (their one definition)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs import pascal_case
from shared.storage.tables import TABLE_MODELS, TTL_ATTRIBUTES, stream_view_type

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


class DataTables(Construct):
    """One table per model: on-demand, point-in-time recovery, retained when the stack goes.

    Retained tables keep their generated names: after `cdk destroy` a new deploy makes new, empty tables
    and the old ones stay (billed for storage) until deleted or their data is copied over. Each table is
    tagged `parley:stack` and `parley:table` so the old ones are easy to find (README, Deploying).
    """

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool = True) -> None:
        super().__init__(scope, construct_id)
        self._retain = retain
        self.tables: dict[str, dynamodb.Table] = {
            logical: self._table(logical, model._get_schema()) for logical, model in TABLE_MODELS.items()
        }

    def _table(self, logical: str, schema: dict[str, Any]) -> dynamodb.Table:
        types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        for index in schema["global_secondary_indexes"]:
            types.update({a["AttributeName"]: a["AttributeType"] for a in index["attribute_definitions"]})
        partition, sort = _keys(schema["key_schema"], types)
        table = dynamodb.Table(
            self,
            pascal_case(logical) + "Table",
            partition_key=partition,
            sort_key=sort,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTES.get(logical),
            stream=dynamodb.StreamViewType[view] if (view := stream_view_type(logical)) else None,
            # Messages and conversations are user data: deleting the stack must not delete them (unless asked).
            removal_policy=cdk.RemovalPolicy.RETAIN if self._retain else cdk.RemovalPolicy.DESTROY,
        )
        cdk.Tags.of(table).add("parley:stack", cdk.Stack.of(self).stack_name)
        cdk.Tags.of(table).add("parley:table", logical)
        for index in schema["global_secondary_indexes"]:
            index_partition, index_sort = _keys(index["key_schema"], types)
            projection = index["projection"]
            table.add_global_secondary_index(
                index_name=index["index_name"],
                partition_key=index_partition,
                sort_key=index_sort,
                projection_type=_PROJECTIONS[projection["ProjectionType"]],
                non_key_attributes=projection.get("NonKeyAttributes"),
            )
        if schema["local_secondary_indexes"]:
            # None today; fail loudly rather than silently drop an index a model declares.
            raise NotImplementedError(f"{logical}: local secondary indexes are not built yet")
        return table


def has_indexes(logical: str) -> bool:
    """Whether the table has secondary indexes (grants then also cover `<table>/index/*`)."""
    schema = TABLE_MODELS[logical]._get_schema()
    return bool(schema["global_secondary_indexes"] or schema["local_secondary_indexes"])


def _keys(
    key_schema: list[dict[str, str]], types: dict[str, str]
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    # PynamoDB does not list the HASH key first; CDK (and DynamoDB) want the keys by role.
    by_role = {}
    for key in key_schema:
        name = key["AttributeName"]
        by_role[key["KeyType"]] = dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[types[name]])
    return by_role["HASH"], by_role.get("RANGE")
