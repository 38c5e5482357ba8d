"""The local DynamoDB's Query reads one partition (infra/local/moto_dynamodb.py): same answers as before,
and a cost that does not grow with the items of other partitions."""

from __future__ import annotations


import boto3
import pytest

pytestmark = pytest.mark.component

TABLE = "test-query"


@pytest.fixture
def client(tables):
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for pk in ("a", "b", "c"):
        for sk in range(10):
            client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"N": str(sk)}, "odd": {"BOOL": sk % 2 == 1}})
    return client


def sks(answer: dict) -> list[int]:
    return [int(item["sk"]["N"]) for item in answer["Items"]]


def query(client, **kwargs) -> dict:
    return client.query(
        TableName=TABLE, KeyConditionExpression=kwargs.pop("condition", "pk = :pk"),
        ExpressionAttributeValues={":pk": {"S": "b"}, **kwargs.pop("values", {})}, **kwargs,
    )  # fmt: skip


def test_a_query_answers_from_its_partition_only_in_key_order(client):
    assert sks(query(client)) == list(range(10))
    assert sks(query(client, ScanIndexForward=False)) == list(range(9, -1, -1))
    assert sks(query(client, condition="pk = :pk AND sk BETWEEN :lo AND :hi", values={":lo": {"N": "3"}, ":hi": {"N": "5"}})) == [3, 4, 5]
    assert sks(query(client, FilterExpression="odd = :t", values={":t": {"BOOL": True}})) == [1, 3, 5, 7, 9]
    assert query(client, values={":pk": {"S": "nobody"}})["Items"] == []


def test_a_query_pages_by_its_last_evaluated_key(client):
    pages, start = [], {}
    while True:
        answer = query(client, Limit=4, ScanIndexForward=False, **start)
        pages.append(sks(answer))
        if "LastEvaluatedKey" not in answer:
            break
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}
    assert pages == [[9, 8, 7, 6], [5, 4, 3, 2], [1, 0]]


def test_a_query_reads_only_its_partition_however_many_items_are_elsewhere(client, monkeypatch):
    """What made delivery slow down with idle connections: moto's Query sorted the whole table. Proven by
    behaviour, not by timing: the table's own all_items (the whole-table walk) is never called."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(TABLE)
    for index in range(2_000):  # straight into moto's memory
        table.put_item({"pk": {"S": f"other-{index % 100}"}, "sk": {"N": str(index)}})
    before = query(client, Limit=5, ScanIndexForward=False)

    def whole_table(self):
        raise AssertionError("a Query walked the whole table")

    monkeypatch.setattr(Table, "all_items", whole_table)
    assert query(client, Limit=5, ScanIndexForward=False)["Items"] == before["Items"]
