"""The local DynamoDB's fast answers (infra/local/moto_responses.py) say exactly what moto's own serializer
says: every answer of this test is made both ways and compared."""

from __future__ import annotations

import json

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from infra.local.moto_responses import FAST_OPERATIONS


@pytest.fixture
def compared(monkeypatch, moto_url):
    """(operation, fast body, moto's body) of every answer the fast path gave."""
    answers = []
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        fast = handler.serialized

        def both(self, action_result, _fast=fast):
            status, headers, body = _fast(self, action_result)
            if self._get_action() in FAST_OPERATIONS and not isinstance(action_result.result, Exception):
                slow_status, slow_headers, slow_body = _fast.__wrapped__(self, action_result)
                answers.append((self._get_action(), (status, headers["Content-Type"], json.loads(body)),
                                (slow_status, slow_headers["Content-Type"], json.loads(slow_body))))
            return status, headers, body

        monkeypatch.setattr(handler, "serialized", both)
    return answers


def test_fast_answers_equal_motos_own(compared, moto_url):
    options = dict(endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                   aws_secret_access_key="testing")
    dynamodb, streams = boto3.client("dynamodb", **options), boto3.client("dynamodbstreams", **options)
    table = "moto-responses-check"
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )  # fmt: skip
    every_type = {
        "pk": {"S": "p"}, "s": {"S": "é ✓ \"quoted\""}, "n": {"N": "-12.50"}, "b": {"B": b"\x00\xffbytes"},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"x", b"\x01"]},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}, {"M": {}}]}}}, "l": {"L": []},
    }  # fmt: skip
    for sk in range(1, 4):
        dynamodb.put_item(TableName=table, Item=every_type | {"sk": {"N": str(sk)}}, ReturnConsumedCapacity="TOTAL")
    key = {"pk": {"S": "p"}, "sk": {"N": "1"}}
    dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
    dynamodb.get_item(TableName=table, Key={"pk": {"S": "none"}, "sk": {"N": "1"}})
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET n = n + :one", ReturnValues="ALL_NEW",
                         ExpressionAttributeValues={":one": {"N": "1"}})
    dynamodb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}},
                   Limit=2, ScanIndexForward=False, ReturnConsumedCapacity="TOTAL")
    dynamodb.batch_get_item(RequestItems={table: {"Keys": [key, {"pk": {"S": "p"}, "sk": {"N": "9"}}]}})
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": every_type | {"sk": {"N": "7"}}}},
        {"Update": {"TableName": table, "Key": key, "UpdateExpression": "REMOVE l"}},
    ])  # fmt: skip
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": "2"}}, ReturnValues="ALL_OLD")
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]

    assert {"INSERT", "MODIFY", "REMOVE"} <= {record["eventName"] for record in records}
    operations = {operation for operation, _, _ in compared}
    assert {"PutItem", "GetItem", "UpdateItem", "Query", "BatchGetItem", "TransactWriteItems", "DeleteItem",
            "GetShardIterator", "GetRecords"} <= operations
    assert [(operation, fast) for operation, fast, motos in compared if fast != motos] == []
