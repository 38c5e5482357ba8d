"""The local runtime's triggers: DynamoDB stream consumers and schedules, run as Lambda runs them.

Stream routes get what Lambda's DynamoDB event source mapping gives them: the table's stream read from
TRIM_HORIZON, in order, batches of up to the route's `batch_size` (as many records as are waiting, no
batching window), one batch in flight per shard, a failed batch (an error, a timeout, or the
`batchItemFailures` the function reports) retried from the failed record with exponential backoff up to
`retry_attempts` times, then handed to the dead-letter destination with Lambda's on-failure record, and
the mapping moves on. Records come from the DynamoDB Streams API of whatever endpoint the runtime uses;
the embedded moto holds a GetRecords open until a record arrives (infra/local/moto_streams.py), so a
commit reaches its consumer within milliseconds; other endpoints are polled, backing off while idle.

Schedule routes (`rate(N minutes|hours|days)`) get EventBridge's Scheduled Event at that rate, invoked
asynchronously (`invoke_asynchronously`, which the S3 front's notifications use too): retried up to
`retry_attempts` times, then dead-lettered.

The dead-letter destination is `DeadLetters`: every entry is logged as an error, kept in memory
(`LocalRuntime.dead_letters.entries`) and appended to a JSON-lines file whose path the log gives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from infra.local.lambda_context import function_arn
from infra.local.lambda_invoker import FunctionError, FunctionTimeout, LambdaInvoker
from infra.local.moto_streams import WAIT_HEADER
from infra.local.trigger_events import lambda_record, on_failure_record, scheduled_event
from shared.routes import Route

log = logging.getLogger("local.triggers")

GET_RECORDS_LIMIT = 1000  # the DynamoDB Streams API's maximum


@dataclass(frozen=True)
class TriggerSettings:
    first_retry_seconds: float = 0.5  # doubles with every retry of the same batch
    max_retry_seconds: float = 8.0
    long_poll_seconds: float = 1.0  # how long one GetRecords may wait for a record (embedded moto)
    max_idle_poll_seconds: float = 1.0  # the longest pause between empty reads of a polled endpoint
    shard_refresh_seconds: float = 30.0  # how often to look for new shards (AWS splits them; moto never)
    schedule_period_seconds: float | None = None  # tests: run every schedule at this period instead

    def retry_delay(self, retry: int) -> float:
        return min(self.first_retry_seconds * 2 ** (retry - 1), self.max_retry_seconds)


class DeadLetters:
    """The local on-failure destination: what the runtime gave up on, never silently dropped."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._path: str | None = None

    @property
    def path(self) -> str | None:
        """The JSON-lines file holding every entry (made at the first one)."""
        return self._path

    def add(self, route: Route, entry: dict[str, Any]) -> None:
        entry = {"function": route.name, **entry}
        with self._lock:
            self.entries.append(entry)
            if self._path is None:
                self._path = os.path.join(tempfile.mkdtemp(prefix="parley-local-"), "dead-letters.jsonl")
            with open(self._path, "a", encoding="utf-8") as file:
                file.write(json.dumps(entry) + "\n")
        log.error(
            "DEAD LETTER: %s gave up on %s after its retries (%s); the entry is in %s",
            route.name,
            _what(entry),
            entry["requestContext"]["condition"],
            self._path,
        )


def _what(entry: dict[str, Any]) -> str:
    info = entry.get("DDBStreamBatchInfo")
    if info:
        return f"{info['batchSize']} stream records {info['startSequenceNumber']}..{info['endSequenceNumber']}"
    return "an event"


# ------------------------------------------------------------------------------------------ streams


class _Expired(Exception):
    """The shard iterator expired or was trimmed past: start again from a sequence number."""


class StreamReader:
    """The DynamoDB Streams API, blocking (it runs in the trigger threads)."""

    def __init__(self, region: str, long_poll_seconds: float) -> None:
        from botocore.config import Config

        from shared.storage.aws import botocore_session

        config = Config(
            connect_timeout=2,
            read_timeout=long_poll_seconds + 10,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        session = botocore_session()
        self._dynamodb = session.create_client("dynamodb", region_name=region, config=config)
        self._streams = session.create_client("dynamodbstreams", region_name=region, config=config)
        wait = f"{long_poll_seconds:g}"

        def ask_to_wait(request, **_) -> None:
            request.headers[WAIT_HEADER] = wait

        self._streams.meta.events.register("before-sign.dynamodb-streams.GetRecords", ask_to_wait)

    def stream_arn(self, table_name: str) -> str | None:
        return self._dynamodb.describe_table(TableName=table_name)["Table"].get("LatestStreamArn")

    def shards(self, stream_arn: str) -> list[dict[str, Any]]:
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": stream_arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            shards += description.get("Shards", [])
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def iterator(self, stream_arn: str, shard_id: str, after: str | None) -> str:
        kwargs = {"SequenceNumber": after, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER"} if after else {}
        return self._streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard_id, **({"ShardIteratorType": "TRIM_HORIZON"} | kwargs)
        )["ShardIterator"]

    def read(self, iterator: str) -> tuple[list[dict[str, Any]], str | None]:
        try:
            answer = self._streams.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
        except self._streams.exceptions.ExpiredIteratorException as error:
            raise _Expired(str(error)) from None
        except self._streams.exceptions.TrimmedDataAccessException as error:
            raise _Expired(str(error)) from None
        return answer.get("Records", []), answer.get("NextShardIterator")


class StreamEventSource:
    """One stream route's event source mapping."""

    def __init__(
        self,
        route: Route,
        *,
        table_name: str,
        reader: StreamReader,
        invoker: LambdaInvoker,
        dead_letters: DeadLetters,
        settings: TriggerSettings,
        region: str,
        run_blocking: Callable[..., Any],
    ) -> None:
        self.route = route
        self.table_name = table_name
        self.stream_arn = ""
        self._reader = reader
        self._invoker = invoker
        self._dead_letters = dead_letters
        self._settings = settings
        self._region = region
        self._run_blocking = run_blocking
        self._shards: dict[str, asyncio.Task] = {}

    async def start(self) -> asyncio.Task:
        stream_arn = await self._run_blocking(self._reader.stream_arn, self.table_name)
        if not stream_arn:
            raise RuntimeError(
                f"{self.route.name} consumes the stream of table {self.table_name}, which has none "
                "(set Meta.stream_view_type on its model in shared/storage/tables.py)"
            )
        self.stream_arn = stream_arn
        return asyncio.create_task(self._follow_shards(), name=f"stream:{self.route.name}")

    async def _follow_shards(self) -> None:
        try:
            while True:
                try:
                    shards = await self._run_blocking(self._reader.shards, self.stream_arn)
                except Exception as error:  # the endpoint is down for a moment: try again later
                    log.warning("%s: cannot describe the stream %s: %s", self.route.name, self.stream_arn, error)
                    shards = []
                for shard in shards:  # parents come before their children
                    if shard["ShardId"] not in self._shards:
                        parent = self._shards.get(shard.get("ParentShardId") or "")
                        self._shards[shard["ShardId"]] = asyncio.create_task(self._consume(shard["ShardId"], parent))
                await asyncio.sleep(self._settings.shard_refresh_seconds)
        finally:
            for task in self._shards.values():
                task.cancel()

    async def _consume(self, shard_id: str, parent: asyncio.Task | None) -> None:
        """Reads one shard to its end (a shard that never closes: forever), delivering batch by batch."""
        if parent is not None:
            await asyncio.wait([parent])  # a child's records follow its parent's
        settings, after = self._settings, None
        iterator: str | None = None
        waiting: list[dict[str, Any]] = []
        idle_pause = 0.0
        while True:
            if not waiting:
                try:
                    if iterator is None:
                        iterator = await self._run_blocking(self._reader.iterator, self.stream_arn, shard_id, after)
                    asked = time.monotonic()
                    records, iterator = await self._run_blocking(self._reader.read, iterator)
                except _Expired as error:
                    log.warning("%s: %s; reading on after %s", self.route.name, error, after or "TRIM_HORIZON")
                    iterator = None
                    continue
                except Exception as error:
                    log.warning("%s: reading %s failed: %s", self.route.name, self.stream_arn, error)
                    await asyncio.sleep(1.0)
                    continue
                if iterator is None and not records:
                    return  # the shard is closed and read to its end
                if not records:
                    # The embedded moto held the read open; an endpoint that answered at once is polled.
                    held = settings.long_poll_seconds > 0 and time.monotonic() - asked >= settings.long_poll_seconds / 2
                    if not held:
                        idle_pause = min(max(idle_pause * 2, 0.05), settings.max_idle_poll_seconds)
                        await asyncio.sleep(idle_pause)
                    continue
                idle_pause = 0.0
                waiting = [lambda_record(record, self.stream_arn) for record in records]
            batch, waiting = waiting[: self.route.batch_size], waiting[self.route.batch_size :]
            await self._deliver(shard_id, batch)
            after = batch[-1]["dynamodb"]["SequenceNumber"]

    async def _deliver(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        """Invokes the function until the batch is done or its retries are spent (then: dead letter)."""
        records, retries = batch, 0
        while True:
            try:
                result = await self._invoker.invoke(self.route, {"Records": records})
            except (FunctionError, FunctionTimeout) as error:
                resume_at, function_error, reason = 0, "Unhandled", str(error)
            else:
                resume_at, function_error = _resume_index(result, records), None
                if resume_at is None:
                    return
                reason = f"it reported {records[resume_at]['dynamodb']['SequenceNumber']} as failed"
            records = records[resume_at:]
            if retries >= self.route.retry_attempts:
                entry = on_failure_record(
                    records,
                    shard_id=shard_id,
                    stream_arn=self.stream_arn,
                    function_arn=function_arn(self.route, self._region),
                    request_id=str(uuid.uuid4()),
                    condition="RetryAttemptsExhausted",
                    invoke_count=retries + 1,
                    function_error=function_error,
                )
                self._dead_letters.add(self.route, {**entry, "records": records})  # records: local only
                return
            retries += 1
            delay = self._settings.retry_delay(retries)
            log.warning(
                "%s: batch failed (%s); retry %d of %d, from %s, in %.2f s",
                self.route.name,
                reason,
                retries,
                self.route.retry_attempts,
                records[0]["dynamodb"]["SequenceNumber"],
                delay,
            )
            await asyncio.sleep(delay)


def _resume_index(result: Any, records: Sequence[dict[str, Any]]) -> int | None:
    """Where to retry from, by the function's partial batch response; None: the batch succeeded.
    As Lambda: no or an empty list is success; an identifier that is missing, empty or not in the
    batch fails the whole batch; otherwise the lowest reported record and all after it are retried."""
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if not failures:
        return None
    positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(records)}
    indexes = []
    for failure in failures if isinstance(failures, list) else [failures]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in positions:
            return 0
        indexes.append(positions[identifier])
    return min(indexes)


# ---------------------------------------------------------------------------------------- schedules

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of an EventBridge `rate(…)` expression; None for anything else (cron)."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        return None
    count, unit = int(match[1]), match[2].rstrip("s")
    if count < 1 or (count == 1) != (match[2] == unit):  # rate(1 minute), rate(5 minutes)
        return None
    return float(count * _UNIT_SECONDS[unit])


class ScheduleSource:
    """One schedule route: its EventBridge rule, invoking the function asynchronously."""

    def __init__(
        self,
        route: Route,
        *,
        period: float,
        invoker: LambdaInvoker,
        dead_letters: DeadLetters,
        settings: TriggerSettings,
        region: str,
    ) -> None:
        self.route = route
        self._period = period
        self._invoker = invoker
        self._dead_letters = dead_letters
        self._settings = settings
        self._region = region
        self._runs: set[asyncio.Task] = set()

    def start(self) -> asyncio.Task:
        return asyncio.create_task(self._tick(), name=f"schedule:{self.route.name}")

    async def _tick(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._period)
                # Invoked asynchronously: a slow run doesn't hold up the next one.
                run = asyncio.create_task(self._invoke(time.time()))
                self._runs.add(run)
                run.add_done_callback(self._runs.discard)
        finally:
            for run in self._runs:
                run.cancel()

    async def _invoke(self, fired_at: float) -> None:
        event = scheduled_event(
            rule_name=f"parley-{self.route.name}", region=self._region, event_id=str(uuid.uuid4()), epoch_seconds=fired_at
        )
        await invoke_asynchronously(
            self.route, event, invoker=self._invoker, dead_letters=self._dead_letters, settings=self._settings,
            region=self._region,
        )


async def invoke_asynchronously(
    route: Route,
    event: dict[str, Any],
    *,
    invoker: LambdaInvoker,
    dead_letters: DeadLetters,
    settings: TriggerSettings,
    region: str,
) -> None:
    """Lambda's asynchronous invocation (schedules, S3 notifications): the first try and up to
    `retry_attempts` retries, then the event goes to the dead-letter destination."""
    for attempt in range(route.retry_attempts + 1):
        try:
            await invoker.invoke(route, event)
            return
        except (FunctionError, FunctionTimeout) as error:
            last_error = error
            if attempt < route.retry_attempts:
                await asyncio.sleep(settings.retry_delay(attempt + 1))
    dead_letters.add(
        route,
        {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function_arn(route, region)}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": route.retry_attempts + 1,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": str(last_error)},
        },
    )


# ---------------------------------------------------------------------------------------- together


class Triggers:
    """Every trigger route of the runtime: started after the APIs, stopped before the services."""

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        invoker: LambdaInvoker,
        region: str,
        table_names: Mapping[str, str],
        settings: TriggerSettings | None = None,
    ) -> None:
        self._routes = [r for r in routes if r.is_trigger]
        self._invoker = invoker
        self._region = region
        self._table_names = table_names
        self.settings = settings or TriggerSettings()
        self.dead_letters = DeadLetters()
        self.streams: list[StreamEventSource] = []
        self.running: list[str] = []  # what runs what, for the ready text: "on_x <- table stream"
        self._tasks: list[asyncio.Task] = []
        self._pool: ThreadPoolExecutor | None = None

    async def _run_blocking(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def start(self) -> None:
        stream_routes = [r for r in self._routes if r.api == "stream"]
        if stream_routes:
            # One thread per shard read (each may wait a long poll out), plus a few for the rest.
            self._pool = ThreadPoolExecutor(max_workers=len(stream_routes) + 4, thread_name_prefix="streams")
            reader = await self._run_blocking(StreamReader, self._region, self.settings.long_poll_seconds)
            for route in stream_routes:
                if route.key not in self._table_names:
                    raise RuntimeError(f"{route.name}: no table named {route.key!r}")
                source = StreamEventSource(
                    route,
                    table_name=self._table_names[route.key],
                    reader=reader,
                    invoker=self._invoker,
                    dead_letters=self.dead_letters,
                    settings=self.settings,
                    region=self._region,
                    run_blocking=self._run_blocking,
                )
                self._tasks.append(await source.start())
                self.streams.append(source)
                self.running.append(f"{route.name} <- {route.key} stream")
        for route in self._routes:
            if route.api == "schedule":
                period = self.settings.schedule_period_seconds or rate_seconds(route.key)
                if period is None:
                    log.warning("%s: the local runtime runs rate(…) schedules only, not %r", route.name, route.key)
                    continue
                self._tasks.append(
                    ScheduleSource(
                        route,
                        period=period,
                        invoker=self._invoker,
                        dead_letters=self.dead_letters,
                        settings=self.settings,
                        region=self._region,
                    ).start()
                )
                self.running.append(f"{route.name} <- {route.key}")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._pool is not None:
            # A read may still wait out its long poll: don't wait for it.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self.dead_letters.entries:
            log.error("%d dead letters this run, in %s", len(self.dead_letters.entries), self.dead_letters.path)
