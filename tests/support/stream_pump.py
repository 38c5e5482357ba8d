"""Delivers the local DynamoDB's stream records to the stream routes' real handlers, for in-process
component tests: in order per table, in batches, honouring batchItemFailures (a failed record and
those after it come again on the next pump). The e2e suite uses `parley local`'s own delivery."""

from __future__ import annotations

import importlib
import time

import boto3

from shared.config import table_name
from shared.routes import ROUTES


class StreamPump:
    def __init__(self):
        self._dynamodb = boto3.client("dynamodb")
        self._streams = boto3.client("dynamodbstreams")
        self._iterators: dict[str, str] = {}
        self._pending: dict[str, list[dict]] = {}
        self.invocations: dict[str, int] = {}
        self.handler_seconds: dict[str, float] = {}  # the last invocation's, per route
        self.routes = [r for r in ROUTES if r.api == "stream"]

    def _fetch(self, route) -> list[dict]:
        name = table_name(route.key)
        arn = self._dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        if arn not in self._iterators:
            shard = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self._iterators[arn] = self._streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        response = self._streams.get_records(ShardIterator=self._iterators[arn])
        self._iterators[arn] = response["NextShardIterator"]
        records = []
        for record in response["Records"]:
            record = dict(record, eventSourceARN=arn)
            change = dict(record["dynamodb"])
            created = change.get("ApproximateCreationDateTime")
            change["ApproximateCreationDateTime"] = int(created.timestamp() if hasattr(created, "timestamp") else created or 0)
            record["dynamodb"] = change
            records.append(record)
        return records

    def pump(self, *, handlers: dict | None = None, only: str | None = None) -> int:
        """One round: each stream route (or only the one named) gets its pending records (a batch).
        Returns the records delivered."""
        delivered = 0
        for route in self.routes:
            if only is not None and route.name != only:
                continue
            pending = self._pending.setdefault(route.name, [])
            pending.extend(self._fetch(route))
            if not pending:
                continue
            batch = pending[: route.batch_size]
            handler = (handlers or {}).get(route.name) or importlib.import_module(f"functions.{route.name}").handler
            self.invocations[route.name] = self.invocations.get(route.name, 0) + 1
            started = time.perf_counter()
            result = handler({"Records": batch}, None) or {}
            self.handler_seconds[route.name] = time.perf_counter() - started
            failures = result.get("batchItemFailures") or []
            if failures:
                failed = failures[0]["itemIdentifier"]
                done = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == failed)
            else:
                done = len(batch)
            del pending[:done]
            delivered += done
        return delivered

    def drain(self, *, rounds: int = 50, handlers: dict | None = None) -> None:
        """Pumps until no route has anything left (consumers' writes make more records)."""
        for _ in range(rounds):
            if self.pump(handlers=handlers) == 0 and not any(self._pending.values()):
                return
        raise AssertionError("stream records keep coming or keep failing")
