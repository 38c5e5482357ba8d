"""`parley local`'s moto process (infra/local/moto_process.py) as its clients see it: DynamoDB answers,
errors included, come back with DynamoDB's types through its direct route; S3 still answers through
moto's own dispatcher; a kept-alive connection answers without Nagle's delayed-ACK stall."""

from __future__ import annotations

import statistics
import time

import boto3
import pytest
from botocore.config import Config

from infra.local.services import MotoServer

TABLE = "moto-process-things"


@pytest.fixture(scope="module")
def clients():
    server = MotoServer()
    try:
        url = server.wait_ready()
        options = dict(endpoint_url=url, region_name="eu-west-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))
        yield boto3.client("dynamodb", **options), boto3.client("s3", **options), boto3.client("dynamodbstreams", **options)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def table(clients):
    dynamodb = clients[0]
    dynamodb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )  # fmt: skip
    return TABLE


def test_dynamodb_answers_and_errors_keep_their_types(clients, table):
    dynamodb, _, streams = clients
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])  # fmt: skip
    assert [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]] == [
        "None", "ConditionalCheckFailed"
    ]
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.get_item(TableName="no-such-table", Key={"pk": {"S": "a"}})
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]  # nothing of the cancelled transaction


def test_s3_still_answers_through_motos_dispatcher(clients):
    s3 = clients[1]
    s3.create_bucket(Bucket="moto-process-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="moto-process-bucket", Key="k", Body=b"body")
    assert s3.get_object(Bucket="moto-process-bucket", Key="k")["Body"].read() == b"body"


def test_a_kept_alive_connection_answers_without_a_delayed_ack_stall(clients, table):
    """Nagle's algorithm held each response's body until the client's delayed ACK: >= 40 ms a request."""
    dynamodb = clients[0]
    took = []
    for _ in range(20):
        started = time.perf_counter()
        dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}})
        took.append(time.perf_counter() - started)
    assert statistics.median(took) < 0.03, took
