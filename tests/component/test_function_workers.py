"""`parley local`'s function worker processes (infra/local/function_workers.py) run handlers as the
in-process invoker does: the event and result through JSON, Lambda's context, errors and timeouts as
Lambda reports them; a worker that dies fails only what it was running and is replaced; a stream
consumer whose worker dies mid-batch gets the batch again, so no record is lost."""

from __future__ import annotations

import asyncio
import json
import os
import time

import boto3
import pytest

from infra.local.function_workers import FunctionWorkers
from infra.local.lambda_invoker import FunctionError, FunctionTimeout, LambdaInvoker
from infra.local.runtime import LocalRuntime
from shared.routes import Route
from tests.component.test_local_streams import FAST, TABLE, make_table, put
from tests.support import worker_handlers
from tests.support.worker_handlers import WorkerRoute

pytestmark = pytest.mark.component


def route(name: str, function: str, **kwargs) -> Route:
    return WorkerRoute(name, "http", f"GET /{name}", function=function, **kwargs)


def with_invoker(scenario, workers: int = 2):
    async def main():
        pool = FunctionWorkers(workers)
        await pool.start()
        invoker = LambdaInvoker(region="us-east-1", workers=pool)
        try:
            return await scenario(invoker, pool)
        finally:
            invoker.shutdown()
            await pool.stop()

    return asyncio.run(main())


def test_handlers_run_in_the_workers_with_lambdas_event_context_and_errors():
    where, fail = route("where", "where"), route("fail", "fail")

    async def scenario(invoker, pool):
        answer = await invoker.invoke(where, {"n": 1, "text": "é"})
        assert answer["pid"] in pool.pids and answer["pid"] != os.getpid()
        assert answer["event"] == {"n": 1, "text": "é"}
        assert 0 < answer["remaining_ms"] <= where.timeout_seconds * 1000
        with pytest.raises(FunctionError) as raised:
            await invoker.invoke(fail, {"why": "because"})
        assert (raised.value.error_type, raised.value.error_message) == ("ValueError", "nope: because")

    with_invoker(scenario)


def test_one_connection_or_caller_stays_on_one_worker_and_others_spread():
    where = route("where", "where")

    async def scenario(invoker, pool):
        async def pid(**context):
            return (await invoker.invoke(where, {"requestContext": context}))["pid"]

        first = {await pid(connectionId="conn-a") for _ in range(6)}
        assert len(first) == 1
        spread = {await pid(connectionId=f"conn-{i}") for i in range(12)}
        assert spread == set(pool.pids)

    with_invoker(scenario)


def test_a_worker_that_dies_fails_its_invocation_and_is_replaced():
    where, die = route("where", "where"), route("die", "die")

    async def scenario(invoker, pool):
        before = set(pool.pids)
        with pytest.raises(FunctionError) as raised:
            await invoker.invoke(die, {"requestContext": {"connectionId": "doomed"}})
        assert raised.value.error_type == "Runtime.ExitError"
        # At once, while its replacement starts: the same connection's next request runs (on the other
        # worker), rather than waiting out its timeout on the dead one.
        answer = await asyncio.wait_for(invoker.invoke(where, {"requestContext": {"connectionId": "doomed"}}), 5)
        assert answer["pid"] in before | set(pool.pids)
        deadline = time.monotonic() + 10
        while len(set(pool.pids) - before) != 1:  # a new worker in the dead one's place
            assert time.monotonic() < deadline, pool.pids
            await asyncio.sleep(0.05)
        answers = [await invoker.invoke(where, {"requestContext": {"connectionId": f"c{i}"}}) for i in range(8)]
        assert {a["pid"] for a in answers} == set(pool.pids)

    with_invoker(scenario)


def test_a_handler_past_its_timeout_times_out_and_its_worker_serves_others():
    slow, where = route("slow", "sleep", timeout_seconds=1), route("where", "where")

    async def scenario(invoker, pool):
        with pytest.raises(FunctionTimeout):
            await invoker.invoke(slow, {"seconds": 3})
        answer = await invoker.invoke(where, {})  # one worker, still busy with the sleeper's thread
        assert answer["pid"] == pool.pids[0]

    with_invoker(scenario, workers=1)


def test_a_consumers_batch_survives_its_worker_dying_mid_batch(tables, moto_url, tmp_path, monkeypatch):
    """The first batch kills its worker: the event source mapping retries it (a function error, as on AWS),
    the replacement worker delivers it, and every record arrives once, in order, with no dead letter."""
    monkeypatch.setenv(worker_handlers.DIED_ONCE_ENV, str(tmp_path / "died"))
    monkeypatch.setenv(worker_handlers.RECORDS_ENV, str(tmp_path / "records"))
    client = boto3.client("dynamodb", endpoint_url=moto_url)
    make_table(client)
    consumer = WorkerRoute("on_thing_changed", "stream", "things", retry_attempts=3, function="die_once_then_consume")

    async def main():
        runtime = LocalRuntime(routes=[consumer], start_services=False, table_names={"things": TABLE},
                               triggers=FAST, function_processes=2)
        async with runtime:
            for sk in range(5):
                put(client, "a", sk, v=f"v{sk}")
            deadline = time.monotonic() + 20
            while len(_lines(tmp_path / "records")) < 5:
                assert time.monotonic() < deadline, _lines(tmp_path / "records")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            return runtime.dead_letters.entries

    dead_letters = asyncio.run(main())
    assert (tmp_path / "died").exists()
    assert [int(keys["sk"]["N"]) for keys in _lines(tmp_path / "records")] == [0, 1, 2, 3, 4]
    assert dead_letters == []


def _lines(path) -> list:
    try:
        return [json.loads(line) for line in path.read_text().splitlines()]
    except FileNotFoundError:
        return []
