"""Function workers: `parley local` runs its Lambda handlers in a few processes of their own.

One Python process has one GIL: with every handler, the APIs and the triggers in the runtime's process,
`parley local` used one core however many the machine has (and its moto child a second). Each worker here
is a pool of warm execution environments, one per function it has run (imported on its first invocation,
kept warm after), as Lambda keeps several for a busy function: module state is per worker, never shared
with the runtime or another worker. The runtime's process keeps the APIs, the WebSocket connections, the
management API and the triggers' event source mappings, and sends each invocation to a worker:

    python -m infra.local.function_workers --fd N     (started by FunctionWorkers, never by hand)

The two talk over a Unix socket pair: length-prefixed pickles of (id, route, event as JSON text, Lambda
context) one way and (id, ok, result or (error type, message)) back, so an invocation's event and result
go through JSON as on Lambda (infra/local/lambda_invoker.py does the same in-process).

Which worker runs an invocation: the same one for everything from one WebSocket connection, one HTTP
caller (its Authorization header) or one trigger, else the least busy. Functions keep per-instance state
that is right when it is warm and corrected (at a cost) when stale: the send function remembers each
conversation's newest seq and retries with a fresh one when another instance moved it; a consumer
remembers each user's event-log tail. Spreading one client's sends over the workers made every send find
its seq stale (1.5 transactions and 0.5 queries per message instead of 1.1 and 0.07); on AWS a client's
requests also mostly meet the same warm instance at this scale, and a shard's batches run one at a time.

A worker that dies fails the invocations it was running (`Runtime.ExitError`, as Lambda reports a crashed
runtime: an API request gets its integration error, a trigger retries the batch as for any failure) and a
new one takes its place. A worker exits when the runtime closes its end of the socket (also when the
runtime dies), without waiting for a handler that overran its timeout, and ignores SIGINT: a Ctrl-C reaches
the whole process group and the runtime still runs `$disconnect` handlers while it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import zlib
from typing import Any

from infra.local.lambda_context import LambdaContext
from shared.routes import Route

log = logging.getLogger("local.workers")

_HEADER = struct.Struct("!I")
EXIT_ERROR = "Runtime.ExitError"
STOP_TIMEOUT_SECONDS = 3.0


class WorkerExited(Exception):
    """The worker running an invocation died before answering."""


class _Worker:
    """The runtime's side of one worker process."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.alive = False  # started, and its end of the socket not closed
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task | None = None

    async def start(self, on_exit) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.local.function_workers", "--fd", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,  # its output goes where the runtime's goes
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        self.alive = True
        self._reading = asyncio.create_task(self._read(reader, on_exit), name=f"function-worker-{self.index}")

    def send(self, message: tuple, future: asyncio.Future) -> None:
        if not self.alive:
            raise WorkerExited()
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.pending[message[0]] = future
        self._writer.write(_HEADER.pack(len(body)) + body)

    async def _read(self, reader: asyncio.StreamReader, on_exit) -> None:
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                invocation, ok, value = pickle.loads(await reader.readexactly(_HEADER.unpack(header)[0]))
                future = self.pending.pop(invocation, None)
                if future is not None and not future.done():  # not: the invocation timed out meanwhile
                    future.set_result((ok, value))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.alive = False
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(WorkerExited())
            self.pending.clear()
        on_exit(self)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()  # the worker exits on end of file
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self.process is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(self.process.wait), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading


class FunctionWorkers:
    """`count` worker processes; `invoke` runs one invocation in one of them. Start and use it on one event
    loop; the environment the functions need must be set before `start` (the workers inherit it)."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one worker")
        self._count = count
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._stopping = False
        self._replacing: set[asyncio.Task] = set()

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process is not None]

    async def start(self) -> None:
        for index in range(self._count):
            worker = _Worker(index)
            await worker.start(self._exited)
            self._workers.append(worker)

    def _exited(self, worker: _Worker) -> None:
        if self._stopping:
            return
        code = worker.process.poll() if worker.process is not None else None
        log.error("function worker %d (pid %s) exited (%s); starting another", worker.index,
                  worker.process.pid if worker.process else "?", code)
        task = asyncio.get_running_loop().create_task(self._replace(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self, worker: _Worker) -> None:
        if worker.process is not None:
            await asyncio.to_thread(worker.process.wait)
        fresh = _Worker(worker.index)
        await fresh.start(self._exited)
        self._workers[worker.index] = fresh

    def _choose(self, route: Route, event: dict) -> _Worker:
        key = _affinity(route, event)
        if key is not None:
            worker = self._workers[zlib.crc32(key.encode()) % len(self._workers)]
            if worker.alive:
                return worker
        # Any invocation, or one whose worker is being replaced: the least busy of those running.
        running = [w for w in self._workers if w.alive]
        if not running:
            raise WorkerExited()
        return min(running, key=lambda w: len(w.pending))

    async def invoke(self, route: Route, event: dict, payload: str, context: LambdaContext) -> tuple[bool, Any]:
        """(True, the result) or (False, (error type, error message)); raises WorkerExited. `payload` is
        `event` as JSON text (what the worker gets)."""
        future = asyncio.get_running_loop().create_future()
        worker = self._choose(route, event)  # raises WorkerExited while none runs
        invocation = next(self._ids)
        try:
            worker.send((invocation, route, payload, context), future)
            return await future
        finally:
            worker.pending.pop(invocation, None)  # timed out or cancelled: a late answer is dropped

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._replacing):
            task.cancel()
        await asyncio.gather(*(worker.stop() for worker in self._workers), return_exceptions=True)
        self._workers.clear()


def _affinity(route: Route, event: dict) -> str | None:
    """What ties an invocation to a worker (see the module's doc); None: any worker."""
    if route.is_trigger:
        return route.name
    context = event.get("requestContext") or {}
    if context.get("connectionId"):
        return context["connectionId"]
    headers = event.get("headers") or {}
    return headers.get("authorization") or headers.get("Authorization")


# ------------------------------------------------------------------------------------- the worker


def _serve(sock: socket.socket) -> None:
    from infra.local import signing as loopback_signing
    from infra.local.iam import DynamoDbGrants
    from infra.local.lambda_invoker import FunctionError, LambdaInvoker
    from shared.storage.aws import botocore_session

    # As in the runtime's process, before any client is made (clients copy the session's handlers).
    DynamoDbGrants().install(botocore_session())
    loopback_signing.install(botocore_session())
    # Its handler cache and run(), not its pool. What a handler's first import builds (modules, clients) lives
    # as long as the worker: out of the garbage collector's sight, as the runtime's startup heap is (cli.py).
    host = LambdaInvoker(region="", max_workers=1, on_import=gc.freeze)
    pool_size = int(os.environ.get("PARLEY_LOCAL_WORKER_THREADS", "128"))
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="lambda")
    sending = threading.Lock()

    def answer(invocation: int, ok: bool, value: Any) -> None:
        body = pickle.dumps((invocation, ok, value), protocol=pickle.HIGHEST_PROTOCOL)
        with sending:
            sock.sendall(_HEADER.pack(len(body)) + body)

    def run(invocation: int, route: Route, payload: str, context: LambdaContext) -> None:
        try:
            result = host.run(route, payload, context)
        except FunctionError as error:
            outcome = (False, (error.error_type, error.error_message))
        except BaseException as error:  # noqa: BLE001 - reported to the runtime, as Lambda would
            outcome = (False, (type(error).__name__, str(error)))
        else:
            outcome = (True, result)
        try:
            answer(invocation, *outcome)
        except OSError:  # the runtime is gone
            pass

    reader = sock.makefile("rb")
    while True:
        header = reader.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return  # the runtime closed its end (or died)
        body = reader.read(_HEADER.unpack(header)[0])
        invocation, route, payload, context = pickle.loads(body)
        pool.submit(run, invocation, route, payload, context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.function_workers")
    parser.add_argument("--fd", type=int, required=True, help="this worker's end of the runtime's socket pair")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from infra.local.cli import configure_logging

    configure_logging()
    sock = socket.socket(fileno=args.fd)
    try:
        _serve(sock)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)  # a handler past its timeout can't be stopped: don't wait for its thread


if __name__ == "__main__":
    sys.exit(main())
