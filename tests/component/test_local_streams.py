"""The local runtime's triggers behave like Lambda's: DynamoDB stream records as the event source mapping
delivers them (shape, order, batches, retries, partial failures, dead letters, TTL), and schedules.

An in-process LocalRuntime with a throwaway stream route on a throwaway table of the session's moto server
(patched as `parley local`'s is), or of a real `parley local` moto process where the test says so."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamLambdaOnFailureDestinationModel,
    DynamoDBStreamModel,
    EventBridgeModel,
)

from infra.local import moto_streams
from infra.local.runtime import LocalRuntime
from infra.local.services import MotoServer
from infra.local.triggers import TriggerSettings
from shared.routes import Route
from shared.adapters.stream import StreamRecord, stream_consumer

pytestmark = pytest.mark.component

TABLE = "test-stream-things"
FAST = TriggerSettings(first_retry_seconds=0.02, max_retry_seconds=0.1, long_poll_seconds=1.0)


def consumer(**kwargs) -> Route:
    return Route("on_thing_changed", "stream", "things", **kwargs)


def make_table(client) -> str:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    client.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    return client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]


def put(client, pk: str, sk: int, **attributes) -> None:
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    for name, value in attributes.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    client.put_item(TableName=TABLE, Item=item)


class Consumer:
    """Records every invocation; `behave(event)` decides what each one answers (default: success)."""

    def __init__(self, behave: Callable[[dict], object] | None = None) -> None:
        self.events: list[dict] = []
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._behave = behave or (lambda event: {"batchItemFailures": []})
        self._lock = threading.Lock()

    def __call__(self, event: dict, context: object) -> object:
        with self._lock:
            self.events.append(event)
            self.arrivals.append(time.perf_counter())
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self._behave(event)
        finally:
            with self._lock:
                self.in_flight -= 1

    def sequence(self) -> list[tuple[str, str, int]]:
        """(event name, pk, sk) of every record delivered, in delivery order."""
        return [
            (r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["Keys"]["sk"]["N"]))
            for event in self.events
            for r in event["Records"]
        ]

    async def wait_for_records(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while sum(len(e["Records"]) for e in self.events) < count:
            assert time.monotonic() < deadline, f"{len(self.sequence())} records delivered, expected {count}"
            await asyncio.sleep(0.01)


def run(route: Route, handler, scenario, *, settings: TriggerSettings = FAST, endpoint: str | None = None):
    """Runs `scenario(runtime, dynamodb client, stream arn)` against an in-process runtime whose only
    route is `route`, consuming the stream of a fresh table."""
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    arn = make_table(client)

    async def main():
        runtime = LocalRuntime(
            routes=[route], handlers={route.name: handler}, start_services=False, table_names={"things": TABLE},
            triggers=settings,
        )
        async with runtime as rt:
            await scenario(rt, client, arn)
        return rt

    return asyncio.run(main())


def test_records_arrive_shaped_like_lambdas_in_order_without_no_op_modifies(tables):
    handler = Consumer()

    async def scenario(rt, client, arn):
        put(client, "a", 1, v="one")
        put(client, "a", 2, v="two")
        put(client, "a", 1, v="one")  # changes nothing: DynamoDB writes no record
        client.update_item(
            TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "2"}}, UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"S": "TWO"}},
        )
        client.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
        await handler.wait_for_records(4)
        await asyncio.sleep(0.2)  # nothing more comes

        assert handler.sequence() == [("INSERT", "a", 1), ("INSERT", "a", 2), ("MODIFY", "a", 2), ("REMOVE", "a", 1)]
        records = [r for event in handler.events for r in event["Records"]]
        for event in handler.events:
            DynamoDBStreamModel.model_validate(event)  # Powertools' model of Lambda's event
        modify, remove = records[2], records[3]
        assert modify["eventVersion"] == "1.1" and modify["eventSource"] == "aws:dynamodb"
        assert modify["awsRegion"] == "us-east-1" and modify["eventSourceARN"] == arn
        change = modify["dynamodb"]
        assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES" and change["SizeBytes"] > 0
        assert change["OldImage"]["v"] == {"S": "two"} and change["NewImage"]["v"] == {"S": "TWO"}
        assert abs(change["ApproximateCreationDateTime"] - time.time()) < 60  # epoch seconds
        assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["OldImage"]["v"] == {"S": "one"}
        assert "userIdentity" not in remove  # deleted by the application, not by TTL
        sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert sequence_numbers == sorted(sequence_numbers)

    run(consumer(), handler, scenario)


def test_batches_hold_at_most_batch_size_records_with_one_batch_in_flight(tables):
    handler = Consumer(lambda event: time.sleep(0.05))

    async def scenario(rt, client, arn):
        for sk in range(12):
            put(client, f"p{sk % 3}", sk)
        await handler.wait_for_records(12)

        assert max(len(e["Records"]) for e in handler.events) <= 5
        assert len(handler.events) >= 3
        assert handler.most_in_flight == 1
        assert [sk for _, _, sk in handler.sequence()] == list(range(12))  # commit order

    run(consumer(batch_size=5), handler, scenario)


def test_a_reported_item_failure_is_retried_from_that_record_on(tables):
    failed_once = set()

    def behave(event):
        for record in event["Records"]:
            sk = int(record["dynamodb"]["Keys"]["sk"]["N"])
            if sk == 2 and sk not in failed_once:
                failed_once.add(sk)
                return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    handler = Consumer(behave)

    async def scenario(rt, client, arn):
        # While the first batch is being handled the rest pile up: they come as one batch, then the
        # retry starts at record 2.
        for sk in range(4):
            put(client, "a", sk)
        await handler.wait_for_records(4)
        await asyncio.sleep(0.3)

        delivered = [[int(r["dynamodb"]["Keys"]["sk"]["N"]) for r in e["Records"]] for e in handler.events]
        flat = [sk for batch in delivered for sk in batch]
        first_failure = next(i for i, batch in enumerate(delivered) if 2 in batch)
        assert delivered[first_failure + 1][0] == 2  # the retry resumes at the failed record
        assert sorted(set(flat)) == [0, 1, 2, 3] and flat.count(2) == 2
        assert rt.dead_letters.entries == []

    run(consumer(), handler, scenario)


def test_the_stream_adapter_retries_exactly_the_records_not_yet_processed(tables):
    processed: list[int] = []
    failures = {3: 2}  # record 3 fails twice, then succeeds

    def process(record: StreamRecord) -> None:
        sk = record.keys["sk"]
        if failures.get(sk):
            failures[sk] -= 1
            raise RuntimeError("storage hiccup")
        processed.append(sk)

    async def scenario(rt, client, arn):
        for sk in range(6):
            put(client, "a", sk)
        deadline = time.monotonic() + 10
        while len(processed) < 6:
            assert time.monotonic() < deadline, processed
            await asyncio.sleep(0.01)
        assert processed == [0, 1, 2, 3, 4, 5]  # each once, in order

    run(consumer(retry_attempts=3), stream_consumer(process), scenario)


def test_a_batch_that_keeps_failing_is_dead_lettered_and_the_stream_moves_on(tables):
    def behave(event):
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "poison" for r in event["Records"]):
            raise RuntimeError("cannot handle this")

    handler = Consumer(behave)

    async def scenario(rt, client, arn):
        put(client, "poison", 1)
        await handler.wait_for_records(3)  # the first try and 2 retries
        put(client, "fine", 2)
        deadline = time.monotonic() + 5
        while ("INSERT", "fine", 2) not in handler.sequence():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)

        assert handler.sequence().count(("INSERT", "poison", 1)) == 3
        (entry,) = rt.dead_letters.entries
        assert entry["function"] == "on_thing_changed"
        failure = DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(entry)
        assert failure.request_context.condition == "RetryAttemptsExhausted"
        assert failure.request_context.approximate_invoke_count == 3
        assert failure.response_context.function_error == "Unhandled"
        info = failure.ddb_stream_batch_info
        assert info.stream_arn == arn and info.batch_size == 1
        assert info.start_sequence_number == info.end_sequence_number == entry["records"][0]["dynamodb"]["SequenceNumber"]
        with open(rt.dead_letters.path) as file:
            assert [json.loads(line) for line in file] == [entry]

    run(consumer(retry_attempts=2), handler, scenario)


def test_a_timed_out_invocation_is_retried(tables):
    calls = []

    def behave(event):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(1.3)  # over the route's 1 s

    handler = Consumer(behave)

    async def scenario(rt, client, arn):
        put(client, "a", 1)
        await handler.wait_for_records(2, timeout=10)
        await asyncio.sleep(0.1)
        assert handler.sequence() == [("INSERT", "a", 1)] * 2
        assert rt.dead_letters.entries == []

    run(consumer(timeout_seconds=1), handler, scenario)


def test_a_ttl_expiry_is_a_remove_by_the_dynamodb_service(tables):
    handler = Consumer()

    async def scenario(rt, client, arn):
        put(client, "a", 1, expires_at=int(time.time()) - 10)
        put(client, "a", 2, expires_at=int(time.time()) + 3600)
        put(client, "a", 3, expires_at=int(time.time()) - 10 * 365 * 86400)  # DynamoDB ignores these
        await handler.wait_for_records(3)
        assert moto_streams.sweep_expired_items() == 1
        await handler.wait_for_records(4)

        remove = handler.events[-1]["Records"][-1]
        assert remove["eventName"] == "REMOVE" and remove["dynamodb"]["Keys"]["sk"] == {"N": "1"}
        assert remove["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        DynamoDBStreamModel.model_validate(handler.events[-1])
        assert StreamRecord.from_event_record(remove).expired

    run(consumer(), handler, scenario)


def test_the_ttl_sweep_deletes_every_expired_item_a_chunk_at_a_time(tables, monkeypatch):
    """The sweep lets go of moto's lock between chunks (10,000 connection rows once stalled requests)."""
    monkeypatch.setattr(moto_streams, "_SWEEP_CHUNK", 2)
    client = boto3.client("dynamodb")
    make_table(client)
    past, future = int(time.time()) - 10, int(time.time()) + 3600
    for partition in range(7):
        put(client, f"p{partition}", 1, expires_at=past if partition % 2 == 0 else future)
    for sk in range(3):
        put(client, "many", sk, expires_at=past)
    assert moto_streams.sweep_expired_items() == 4 + 3
    left = client.scan(TableName=TABLE)["Items"]
    assert sorted(item["pk"]["S"] for item in left) == ["p1", "p3", "p5"]


def test_a_ttl_sweep_checks_a_bounded_number_of_items_and_the_next_one_goes_on(tables, monkeypatch):
    """A sweep's cost does not grow with the table (10,000 live connection rows were all checked every 5 s):
    expired items of a large table go within a few sweeps, one added mid-round in the next round."""
    monkeypatch.setattr(moto_streams, "_SWEEP_BUDGET", 3)
    client = boto3.client("dynamodb")
    make_table(client)
    past = int(time.time()) - 10
    for partition in range(7):
        put(client, f"p{partition}", 1, expires_at=past)
    assert [moto_streams.sweep_expired_items() for _ in range(3)] == [3, 3, 1]
    put(client, "late", 1, expires_at=past)
    assert moto_streams.sweep_expired_items() == 1  # a new round: the table as it is now
    assert client.scan(TableName=TABLE)["Items"] == []


def test_a_schedule_runs_its_function_with_eventbridges_scheduled_event(tables):
    events = []
    route = Route("tidy_up", "schedule", "rate(5 minutes)")

    async def main():
        settings = TriggerSettings(schedule_period_seconds=0.05)
        runtime = LocalRuntime(
            routes=[route], handlers={"tidy_up": lambda e, c: events.append(e)}, start_services=False,
            triggers=settings,
        )
        async with runtime:
            deadline = time.monotonic() + 5
            while len(events) < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)

    asyncio.run(main())
    event = EventBridgeModel.model_validate(events[0])
    assert event.detail_type == "Scheduled Event" and event.source == "aws.events"
    assert events[0]["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/parley-tidy_up"]


def test_records_of_a_transaction_moto_rejects_mid_way_never_reach_the_stream(tables):
    handler = Consumer()

    async def scenario(rt, client, arn):
        bad = {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "b"}, "sk": {"N": "1"}}, "UpdateExpression": "SET v = :missing"}}
        good = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}
        with pytest.raises(client.exceptions.ClientError):
            client.transact_write_items(TransactItems=[good, bad])
        put(client, "c", 1)
        await handler.wait_for_records(1)
        await asyncio.sleep(0.2)
        assert handler.sequence() == [("INSERT", "c", 1)]

    run(consumer(), handler, scenario)


def test_an_endpoint_that_answers_at_once_is_polled_backing_off_while_idle(tables, monkeypatch):
    """LocalStack or AWS return an empty GetRecords at once (here: moto asked not to wait)."""
    from infra.local.triggers import StreamReader

    reads = []
    read = StreamReader.read
    monkeypatch.setattr(StreamReader, "read", lambda self, iterator: (reads.append(time.monotonic()), read(self, iterator))[1])
    handler = Consumer()

    async def scenario(rt, client, arn):
        await asyncio.sleep(3)  # idle
        idle_reads = len(reads)
        put(client, "a", 1)
        await handler.wait_for_records(1, timeout=3)
        assert idle_reads <= 12  # backing off to one read a second, not a busy loop

    run(consumer(), handler, scenario, settings=TriggerSettings(long_poll_seconds=0, max_idle_poll_seconds=1.0))


@pytest.fixture
def moto_process(monkeypatch):
    """`parley local`'s own moto process, sweeping TTL every 0.2 s."""
    server = MotoServer(ttl_sweep_seconds="0.2")
    try:
        url = server.wait_ready()
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield url
    finally:
        server.stop()


def test_through_parley_locals_moto_records_arrive_within_milliseconds_and_ttl_is_swept(moto_process):
    handler = Consumer()
    latencies = []

    async def scenario(rt, client, arn):
        loop = asyncio.get_running_loop()
        for sk in range(40):
            count = len(handler.events)
            writing = time.perf_counter()  # the commit is within the put: this over-counts a little
            await loop.run_in_executor(None, put, client, "a", sk)
            await handler.wait_for_records(sk + 1)
            latencies.append(handler.arrivals[count] - writing)
        put(client, "a", 100, expires_at=int(time.time()) - 1)
        await handler.wait_for_records(42, timeout=5)  # its INSERT, then the sweeper's REMOVE
        assert handler.events[-1]["Records"][-1]["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"

    run(consumer(), handler, scenario, endpoint=moto_process)
    p50 = statistics.median(latencies)
    print(f"commit -> handler through the moto process: p50 {p50 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    assert p50 < 0.2  # under load too; a record left waiting for a poll (~1 s) instead of the long poll still fails
