"""The local S3 front (infra/local/s3_front.py) served from a thread, in front of the tests' moto."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from infra.local.lambda_invoker import LambdaInvoker
from infra.local.s3_front import S3Front
from infra.local.triggers import TriggerSettings
from shared.routes import Route


@dataclass
class RunningFront:
    url: str
    front: S3Front
    events: list[dict] = field(default_factory=list)

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.events) >= count, f"{len(self.events)} of {count} events arrived"
        return self.events

    def wait_for_dead_letters(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.front.dead_letters.entries) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.front.dead_letters.entries


@contextlib.contextmanager
def running_s3_front(
    upstream_url: str, routes: Sequence[Route], handler: Callable[[dict, object], object] | None = None
) -> Iterator[RunningFront]:
    """Serves the front on a free port; every event also lands in `events` (before the handler runs)."""
    started = threading.Event()
    state: dict = {}
    events: list[dict] = []

    def record(event: dict, context: object) -> object:
        events.append(event)
        return handler(event, context) if handler else None

    def serve() -> None:
        loop = asyncio.new_event_loop()
        state["loop"] = loop
        invoker = LambdaInvoker(region="us-east-1", handlers={route.name: record for route in routes})
        front = S3Front(
            upstream_url=upstream_url,
            credentials={"testing": "testing"},
            routes=routes,
            invoker=invoker,
            region="us-east-1",
            settings=TriggerSettings(first_retry_seconds=0.01),
        )
        runner = web.AppRunner(front.app())
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]
        state.update(front=front, runner=runner, url=f"http://127.0.0.1:{port}", invoker=invoker)
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        invoker.shutdown()
        loop.close()

    thread = threading.Thread(target=serve, name="s3-front", daemon=True)
    thread.start()
    assert started.wait(10), "the S3 front did not start"
    try:
        yield RunningFront(url=state["url"], front=state["front"], events=events)
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(10)
