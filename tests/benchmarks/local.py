"""Driving `parley local` for the benchmarks: starting it, users, and a WebSocket that matches frames to
the sends that caused them (by client_message_id) and timestamps their arrival."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import aiohttp

from tests.benchmarks.common import clean_env
from tests.support.client import ParleyClient, Socket

# The send rate limit stays on (its Redis round trip is part of every send) but high enough that a
# benchmark sender, which sends far faster than a person, never reaches it.
BENCH_SEND_RATE_LIMIT = "1000000"


def runtime_env() -> dict[str, str]:
    return clean_env(
        SEND_RATE_LIMIT_PER_MINUTE=BENCH_SEND_RATE_LIMIT,
        # One log line per invocation (INFO) costs the runtime CPU that a benchmark should measure as
        # serving; warnings and errors still show in its output.
        PARLEY_LOCAL_LOG_LEVEL="WARNING",
    )


@dataclass
class RuntimeOptions:
    """How `parley local` is backed; the default is what `parley local` does by itself (set by run.py)."""

    aws_endpoint_url: str | None = None  # DynamoDB elsewhere (LocalStack, DynamoDB Local, …)

    def describe(self) -> str:
        if self.aws_endpoint_url:
            return f"`parley local` with AWS_ENDPOINT_URL={self.aws_endpoint_url}"
        return "`parley local` as it starts by default (embedded moto in a child process, embedded redis-server)"


OPTIONS = RuntimeOptions()


@contextlib.contextmanager
def local_runtime(**extra_env: str):
    from tests.support.local_runtime import run_local_runtime

    env = runtime_env() | extra_env
    if OPTIONS.aws_endpoint_url:
        env["AWS_ENDPOINT_URL"] = OPTIONS.aws_endpoint_url
    with run_local_runtime(env=env) as runtime:
        yield runtime


def token(user_id: str) -> str:
    from shared.auth import LOCAL_DEV_SECRET, mint_token

    return mint_token(user_id, LOCAL_DEV_SECRET, ttl_seconds=3600)


def run_id() -> str:
    return uuid.uuid4().hex[:8]


def client_session() -> aiohttp.ClientSession:
    # No connection cap: the benchmark bounds its own concurrency.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30))


def client_for(session: aiohttp.ClientSession, runtime, user_id: str) -> ParleyClient:
    return ParleyClient(session, runtime.http_url, runtime.ws_url, token(user_id), check_contracts=False)


def _frame_key(frame: dict) -> tuple[str, str | None]:
    """(kind, client_message_id): kind is "new_message", "ack" (a message_ack or an error frame answering
    a send) or the frame's type; API Gateway's own error frames have no type."""
    frame_type = frame.get("type")
    data = frame.get("data") or {}
    if frame_type == "new_message":
        return "new_message", ((data.get("message") or {}).get("client_message_id"))
    if frame_type in ("message_ack", "error"):
        return "ack", data.get("client_message_id")
    if frame_type is None and "message" in frame:
        return "gateway_error", None
    return str(frame_type), None


class TrackedSocket(Socket):
    """A Socket whose frames resolve futures registered before a send, keyed by client_message_id.

    Frames nobody waits for are counted, not kept (a long run receives thousands of them).
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.waiters: dict[tuple[str, str], asyncio.Future] = {}
        self.unexpected: Counter[str] = Counter()  # kind -> frames that matched no waiter
        self.gateway_errors: list[dict] = []
        super().__init__(ws, check_contracts=False)  # validation would count as latency

    async def _read(self):
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            arrived = time.perf_counter()
            frame = json.loads(msg.data)
            kind, client_message_id = _frame_key(frame)
            if kind == "gateway_error":
                self.gateway_errors.append(frame)
            waiter = self.waiters.pop((kind, client_message_id), None) if client_message_id else None
            if waiter is not None and not waiter.done():
                waiter.set_result((arrived, frame))
            else:
                self.unexpected[kind] += 1

    def expect(self, kind: str, client_message_id: str) -> asyncio.Future:
        """A future for (arrival perf_counter, frame) of the next `kind` frame about this send."""
        future = asyncio.get_running_loop().create_future()
        self.waiters[(kind, client_message_id)] = future
        return future

    def forget(self, kind: str, client_message_id: str) -> None:
        self.waiters.pop((kind, client_message_id), None)


async def connect(client: ParleyClient) -> TrackedSocket:
    ws = await client.session.ws_connect(client.ws_url, params={"token": client.token}, autoping=True)
    return TrackedSocket(ws)


@dataclass
class Pair:
    sender: ParleyClient
    receiver: ParleyClient
    conversation_id: str
    sender_socket: TrackedSocket | None = None
    receiver_socket: TrackedSocket | None = None


async def make_pairs(session, runtime, count: int, label: str, *, connect_sender: bool = True,
                     concurrency: int = 8) -> list[Pair]:
    """`count` fresh sender/receiver pairs, each with its conversation started and sockets connected."""
    run = run_id()
    gate = asyncio.Semaphore(concurrency)

    async def make(index: int) -> Pair:
        async with gate:
            receiver_id = f"{label}-r{index}-{run}"
            sender = client_for(session, runtime, f"{label}-s{index}-{run}")
            receiver = client_for(session, runtime, receiver_id)
            pair = Pair(sender, receiver, await sender.start_conversation(receiver_id))
            pair.receiver_socket = await connect(receiver)
            if connect_sender:
                pair.sender_socket = await connect(sender)
            return pair

    return list(await asyncio.gather(*(make(i) for i in range(count))))


async def close_pairs(pairs: list[Pair]) -> None:
    for pair in pairs:
        for socket in (pair.sender_socket, pair.receiver_socket):
            if socket is not None and not socket.closed:
                await socket.close()


class ProcessCpu:
    """CPU seconds used by a process, or by several together (Linux /proc), to show how busy the runtime was."""

    def __init__(self, *pids: int):
        self.pids = pids
        self._ticks = os.sysconf("SC_CLK_TCK")

    @property
    def pid(self) -> int:
        return self.pids[0]

    def seconds(self) -> float | None:
        total = 0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / self._ticks


def runtime_processes(runtime) -> dict[str, ProcessCpu]:
    """`parley local`'s process and the children it started (its function workers together, moto,
    redis-server), by role; Linux only (empty elsewhere)."""
    found = {"`parley local` process (APIs, triggers)": ProcessCpu(runtime.pid)}
    workers = []
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return {}
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent != runtime.pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().decode(errors="replace").split("\0")
        except (OSError, ValueError, IndexError):
            continue
        if "infra.local.function_workers" in argv:
            workers.append(int(entry))
        elif "infra.local.moto_process" in argv:
            found["its moto process (DynamoDB)"] = ProcessCpu(int(entry))
        elif argv and os.path.basename(argv[0]).startswith("redis-server"):
            found["its redis-server"] = ProcessCpu(int(entry))
    if workers:
        found[f"its {len(workers)} function worker processes (handlers)"] = ProcessCpu(*sorted(workers))
    return found


def stored_items(runtime, logical_table: str = "messages") -> int | None:
    """How many items a table of the runtime holds (DescribeTable's ItemCount: live in moto, ~6-hourly
    on AWS); None when it can't be read."""
    try:
        import boto3

        from shared.config import table_name

        client = boto3.client("dynamodb", endpoint_url=runtime.dynamodb_url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        return client.describe_table(TableName=table_name(logical_table))["Table"]["ItemCount"]
    except Exception:  # a figure for the report only
        return None
