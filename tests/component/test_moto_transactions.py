"""The local DynamoDB (moto with infra/local/moto_dynamodb.py) keeps DynamoDB's transaction promises."""

import threading
import zlib

import boto3
import pytest
from botocore.exceptions import ClientError

from shared.config import table_name

pytestmark = pytest.mark.component


@pytest.fixture
def dynamodb(tables):
    return boto3.client("dynamodb")


def claim(client_message_id: str, message_id: str) -> dict:
    return {
        "Put": {
            "TableName": table_name("sent_messages"),
            "Item": {
                "sender_id": {"S": "alice"},
                "client_message_id": {"S": client_message_id},
                "conversation_id": {"S": "c"},
                "seq": {"N": _seq(message_id)},
            },
            "ConditionExpression": "attribute_not_exists(client_message_id)",
        }
    }


def _seq(name: str) -> str:
    return str(zlib.crc32(name.encode()))  # a stable number per test message name


def message(message_id: str) -> dict:
    return {
        "TableName": table_name("messages"),
        "Item": {"conversation_id": {"S": "c"}, "seq": {"N": _seq(message_id)}, "name": {"S": message_id}, "content": {"S": "x"}},
    }


def test_a_cancelled_transaction_never_undoes_other_writes(dynamodb):
    """A retried send cancels on its claim; messages stored meanwhile by others must all survive."""
    # A table with some history: moto's own rollback copied whole tables, which opened a wide window.
    backlog = [f"old-{i:04d}" for i in range(1500)]
    for start in range(0, len(backlog), 25):
        dynamodb.batch_write_item(
            RequestItems={table_name("messages"): [{"PutRequest": {"Item": message(m)["Item"]}} for m in backlog[start : start + 25]]}
        )
    dynamodb.transact_write_items(TransactItems=[{"Put": message("m-first")}, claim("dup", "m-first")])
    stop = threading.Event()

    def retry_forever():
        while not stop.is_set():
            with pytest.raises(ClientError, match="TransactionCanceled"):
                dynamodb.transact_write_items(TransactItems=[{"Put": message("m-retry")}, claim("dup", "m-retry")])

    retriers = [threading.Thread(target=retry_forever) for _ in range(3)]
    for thread in retriers:
        thread.start()
    try:
        stored = [f"m-{i:04d}" for i in range(150)]
        for message_id in stored:
            dynamodb.put_item(**message(message_id))
    finally:
        stop.set()
        for thread in retriers:
            thread.join()
    paginator = dynamodb.get_paginator("query")
    pages = paginator.paginate(
        TableName=table_name("messages"),
        KeyConditionExpression="conversation_id = :c",
        ExpressionAttributeValues={":c": {"S": "c"}},
    )
    found = {item["name"]["S"] for page in pages for item in page["Items"]}
    assert found == set(backlog + stored + ["m-first"])


def test_a_transaction_writes_all_of_its_items_or_none(dynamodb):
    dynamodb.put_item(
        TableName=table_name("sent_messages"),
        Item={"sender_id": {"S": "alice"}, "client_message_id": {"S": "taken"}, "conversation_id": {"S": "c"}, "seq": {"N": "1"}},
    )
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[{"Put": message("m1")}, claim("taken", "m1")])
    reasons = cancelled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in dynamodb.get_item(
        TableName=table_name("messages"), Key={"conversation_id": {"S": "c"}, "seq": {"N": _seq("m1")}}
    )


def test_an_item_moto_rejects_mid_transaction_rolls_back_the_items_before_it(dynamodb):
    bad_update = {
        "Update": {
            "TableName": table_name("conversations"),
            "Key": {"conversation_id": {"S": "c"}},
            "UpdateExpression": "SET created_at = :missing",  # :missing is not defined
        }
    }
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[{"Put": message("m2")}, bad_update])
    assert "Item" not in dynamodb.get_item(
        TableName=table_name("messages"), Key={"conversation_id": {"S": "c"}, "seq": {"N": _seq("m2")}}
    )
