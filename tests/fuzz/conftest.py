"""The fuzz tier's target: one `parley local` for the session, driven by real HTTP and WebSocket clients
(aiohttp) from hypothesis's synchronous tests through one event loop, and read back through its moto
endpoint to prove that a refused input stored nothing."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import boto3
import pytest

from shared.auth import LOCAL_DEV_SECRET, mint_token
from shared.routes import HTTP_PREFIX, ROUTES, TRIGGER_ROUTES, Route
from shared.storage.tables import TABLE_MODELS
from tests.support.local_runtime import LocalRuntimeProcess, run_local_runtime

FUZZER, PEER = "fuzz-alice", "fuzz-bob"
REPLY_TIMEOUT_SECONDS = 15  # a loaded 2-core CI box; a healthy answer takes milliseconds
SETTLE_SECONDS = 1.0  # how long stored state must hold still before it counts as settled


WRITE_ACTIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


def writes(route: Route) -> tuple[str, ...]:
    """The tables the route's grants let it write."""
    return tuple(sorted(name for name, actions in route.tables.items() if actions & WRITE_ACTIONS))


def written_later(route: Route) -> set[str]:
    """The tables stream consumers may write after `route` has written (transitively), per the route table."""
    later: set[str] = set()
    pending = list(writes(route))
    while pending:
        table = pending.pop()
        for consumer in (r for r in TRIGGER_ROUTES if r.api == "stream" and r.key == table):
            for written in set(writes(consumer)) - later:
                later.add(written)
                pending.append(written)
    return later


# What the checks compare: what any request route may write, and the fuzzer's conversation list.
COMPARED_TABLES = {"user_conversations"}.union(*(writes(r) for r in ROUTES if r.api in ("http", "websocket")))


@dataclass
class FuzzTarget:
    runtime: LocalRuntimeProcess
    runner: asyncio.Runner
    session: aiohttp.ClientSession
    token: str
    conversation_id: str  # the fuzzer's conversation with PEER, holding one message
    next_cursor: str  # a real cursor into the fuzzer's history
    _dynamodb: object = field(repr=False, default=None)
    _changed: bool = False  # an earlier input was accepted: its effects may still be landing

    @property
    def base_url(self) -> str:
        """Where the route table's paths (which start with /api/v1) go."""
        return self.runtime.http_url.removesuffix(HTTP_PREFIX)

    def run(self, coroutine):
        return self.runner.run(coroutine)

    async def request(self, method: str, raw_url: str, **kwargs) -> tuple[int, bytes, aiohttp.typedefs.LooseHeaders]:
        import yarl

        async with self.session.request(method, yarl.URL(raw_url, encoded=True), **kwargs) as response:
            return response.status, await response.read(), response.headers

    def item_counts(self, logical_tables: tuple[str, ...]) -> dict[str, int]:
        return {
            name: self._dynamodb.describe_table(TableName=TABLE_MODELS[name].Meta.table_name)["Table"]["ItemCount"]
            for name in logical_tables
        }

    def stored(self, logical_tables: tuple[str, ...]) -> dict:
        """What a refused input must not change: the item count of each table the route may write, and
        the fuzzer's conversation list (rows move on every stored message)."""
        counts = self.item_counts(logical_tables)
        status, body, _ = self.run(
            self.request("GET", f"{self.runtime.http_url}/conversations?limit=100", headers=self.auth())
        )
        assert status == 200, body
        return {"items": counts, "conversations": json.loads(body)["conversations"]}

    def settled(self, logical_tables: tuple[str, ...]) -> dict:
        """The stored state, once what an accepted input set going in stream consumers has landed."""
        snapshot = self.stored(logical_tables)
        if self._changed:
            deadline = time.monotonic() + REPLY_TIMEOUT_SECONDS
            still_since = time.monotonic()
            while time.monotonic() - still_since < SETTLE_SECONDS and time.monotonic() < deadline:
                time.sleep(0.2)
                again = self.stored(logical_tables)
                if again != snapshot:
                    snapshot, still_since = again, time.monotonic()
            self._changed = False
        return snapshot

    def accepted(self, route: Route) -> None:
        """`route` took an input: if its consumers write what the checks compare, let them land first."""
        if written_later(route) & COMPARED_TABLES:
            self.changing()

    def changing(self) -> None:
        """Something is on its way to storage (a $disconnect, a consumer): the next check waits for it."""
        self._changed = True

    def auth(self, token: str | None = None) -> dict:
        return {"Authorization": f"Bearer {token or self.token}"}


async def _open_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REPLY_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def fuzz_target() -> Iterator[FuzzTarget]:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET")}
    with run_local_runtime(env=env) as runtime, asyncio.Runner() as runner:
        session = runner.run(_open_session())
        target = FuzzTarget(runtime, runner, session, mint_token(FUZZER, LOCAL_DEV_SECRET), "", "")
        target._dynamodb = boto3.client(
            "dynamodb", endpoint_url=runtime.dynamodb_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        base = runtime.http_url
        status, body, _ = target.run(target.request("POST", f"{base}/conversations/{PEER}", headers=target.auth()))
        assert status == 201, body
        target.conversation_id = json.loads(body)["conversation"]["id"]
        for n in (1, 2):
            message = {"client_message_id": f"seed-{n}", "type": "text", "content": f"seed {n}"}
            status, body, _ = target.run(
                target.request("POST", f"{base}/conversations/{target.conversation_id}/messages", json=message, headers=target.auth())
            )
            assert status == 201, body
        status, body, _ = target.run(
            target.request("GET", f"{base}/conversations/{target.conversation_id}/messages?limit=1", headers=target.auth())
        )
        target.next_cursor = json.loads(body)["next_cursor"]
        try:
            yield target
        finally:
            runner.run(session.close())
