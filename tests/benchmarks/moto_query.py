"""The local DynamoDB's Query with and without infra/local/moto_dynamodb.py's one-partition patch.

A table with 50 items in the partition queried and N items in other partitions; a Query of the newest 20
items of that partition (what a history page or a connection lookup does), through moto's whole request
path (its WSGI app, in process: no network, so the numbers are moto's own cost). moto's own Query sorts
the whole table on every call; the patched one reads the partition.
"""

from __future__ import annotations

import json
import time

from tests.benchmarks.common import Result, markdown_table, ms, summarize

TABLE = "bench-query"
_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
)


def _client():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    client = Client(DomainDispatcherApplication(create_backend_app))

    def call(action: str, body: dict) -> dict:
        response = client.post(
            "/",
            data=json.dumps(body),
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"DynamoDB_20120810.{action}",
                "Authorization": _AUTH,
            },
        )
        if response.status_code != 200:
            raise RuntimeError(f"{action}: {response.status_code} {response.text[:300]}")
        return json.loads(response.text)

    return call


def _seed(others: int) -> None:
    """Items straight into moto's backend (seeding 100,000 through requests would take minutes)."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(TABLE)
    for index in range(others):
        table.put_item({"pk": {"S": f"user-{index % 10_000}"}, "sk": {"N": str(index)}, "body": {"S": "x" * 100}})
    for index in range(50):
        table.put_item({"pk": {"S": "target"}, "sk": {"N": str(index)}, "body": {"S": "x" * 100}})


def _measure(call, samples: int) -> list[float]:
    query = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "target"}},
        "ScanIndexForward": False,
        "Limit": 20,
        "ConsistentRead": True,
    }
    for _ in range(3):
        call("Query", query)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = call("Query", query)
        times.append((time.perf_counter() - started) * 1000)
        assert answer["Count"] == 20 and answer["Items"][0]["sk"] == {"N": "49"}, answer
    return times


def _bench(others: int, patched: bool, samples: int) -> dict:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    from infra.local import moto_dynamodb

    original = getattr(Table.query, "__wrapped__", Table.query)
    if patched:
        moto_dynamodb.install()
        if Table.query is original:  # installed before, then switched off below
            moto_dynamodb._query_one_partition()
    else:
        Table.query = original
    dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].reset()
    call = _client()
    call(
        "CreateTable",
        {
            "TableName": TABLE,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    _seed(others)
    return summarize(_measure(call, samples))


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("moto_query", "the local DynamoDB's Query: one partition vs the whole table")
    sizes = (0, 1_000) if tiny else (0, 10_000) if quick else (0, 10_000, 100_000)
    samples = 3 if tiny else 20 if quick else 50
    rows = []
    for others in sizes:
        for patched in (False, True):
            stats = _bench(others, patched, samples)
            how = "one partition (patched)" if patched else "moto as shipped"
            rows.append([f"{others:,}", how, ms(stats["p50"]), ms(stats["p99"])])
            result.data[f"query_{others}_{'patched' if patched else 'moto'}"] = stats
            if others == sizes[-1]:
                result.add(f"Query of 20 items, {others:,} items in other partitions, {how}", f"p50 {ms(stats['p50'])}")
    result.details.append(markdown_table(["items in other partitions", "Query", "p50", "p99"], rows))
    return result


if __name__ == "__main__":
    print("\n".join(run(quick=False).details))
