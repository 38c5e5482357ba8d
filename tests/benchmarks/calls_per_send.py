"""Calls per operation: DynamoDB API calls, Redis commands and management-API posts for one send, for
each stream consumer per message, for ack, read, history and sync; and the AWS cost per million messages.

The real handlers run in this process against a moto server, a real redis-server and a recording
management API (all on 127.0.0.1). Counting:
- DynamoDB (and every other AWS API): a `before-call` handler on every botocore client created while
  counting (PynamoDB's, the pusher's), keyed by service and operation; `before-send` counts HTTP
  attempts, so SDK retries would show as attempts > calls;
- Redis: the server's own `INFO commandstats`, reset before each scenario, plus client round trips
  (a pipeline is one round trip);
- management API: what the recording stub received.

Numbers are for a warm function (clients created, Redis connected): a cold first call adds nothing to
the counts but its connection setup (see cold_start.py for its time). Consumers get their records from
moto's streams through tests/support/stream_pump.py; capacity units and prices: tests/benchmarks/cost.py.
"""

from __future__ import annotations

import contextlib
import copy
import statistics
import threading
import time
import uuid
from collections import Counter

from tests.benchmarks.common import Result, in_process_backend, markdown_table, ms, reset_clients

TIMING_REPEATS = 20


class CallCounter:
    def __init__(self, meter=None):
        self.meter = meter
        self.calls: Counter[tuple[str, str]] = Counter()
        self.attempts: Counter[tuple[str, str]] = Counter()
        self.redis_round_trips = 0
        # Round trips the request's own thread made (it waits for them), not the I/O pool's (shared/realtime/concurrency.py),
        # whose calls go alongside others: what a request waits for before its first push.
        self.redis_waited = 0
        self.before_first_push: dict | None = None  # {"dynamodb": calls, "redis": round trips waited for}
        self.uncounted: list = []  # Redis clients of the harness itself

    def reset(self):
        self.calls.clear()
        self.attempts.clear()
        self.redis_round_trips = self.redis_waited = 0
        self.before_first_push = None
        if self.meter is not None:
            self.meter.reset()

    def _on(self, counter: Counter):
        def handler(event_name: str, **kwargs):
            _, service, operation = event_name.split(".", 2)
            if counter is self.calls and operation == "PostToConnection" and self.before_first_push is None:
                dynamodb = sum(n for (service_name, _), n in self.calls.items() if service_name == "dynamodb")
                self.before_first_push = {"dynamodb": dynamodb, "redis": self.redis_waited}
            counter[(service, operation)] += 1

        return handler

    def _redis_round_trip(self):
        self.redis_round_trips += 1
        if not threading.current_thread().name.startswith("io"):
            self.redis_waited += 1

    @contextlib.contextmanager
    def installed(self):
        import botocore.session
        import redis.client

        original_create_client = botocore.session.Session.create_client
        original_execute_command = redis.client.Redis.execute_command
        original_pipeline_execute = redis.client.Pipeline.execute
        counter = self

        def create_client(session, *args, **kwargs):
            client = original_create_client(session, *args, **kwargs)
            client.meta.events.register("before-call", counter._on(counter.calls))
            client.meta.events.register("before-send", counter._on(counter.attempts))
            if counter.meter is not None:
                counter.meter.register(client)
            return client

        def execute_command(client, *args, **kwargs):
            if client not in counter.uncounted:
                counter._redis_round_trip()
            return original_execute_command(client, *args, **kwargs)

        def pipeline_execute(pipeline, *args, **kwargs):
            if pipeline.command_stack:
                counter._redis_round_trip()
            return original_pipeline_execute(pipeline, *args, **kwargs)

        botocore.session.Session.create_client = create_client
        redis.client.Redis.execute_command = execute_command
        redis.client.Pipeline.execute = pipeline_execute
        try:
            yield self
        finally:
            botocore.session.Session.create_client = original_create_client
            redis.client.Redis.execute_command = original_execute_command
            redis.client.Pipeline.execute = original_pipeline_execute


class RedisServerStats:
    """Commands the server executed, from its own counters (a separate connection, not counted)."""

    IGNORED = {"info", "config", "config|resetstat"}

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True)

    def reset(self):
        self.client.config_resetstat()

    def commands(self) -> Counter[str]:
        stats = self.client.info("commandstats")
        return Counter(
            {
                name.removeprefix("cmdstat_").upper(): value["calls"]
                for name, value in stats.items()
                if name.removeprefix("cmdstat_") not in self.IGNORED
            }
        )


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("calls_per_send", "AWS, Redis and management-API calls per operation (in-process, warm)")
    started = time.perf_counter()
    with in_process_backend() as backend:
        # The send rate limiter is on (its default), so its Redis commands are counted.
        reset_clients()
        from tests.support.stream_pump import StreamPump

        # Their own clients, made before counting starts: never counted themselves.
        meter, pump = _capacity_meter(), StreamPump()
        counter = CallCounter(meter)
        with counter.installed():
            _measure(result, backend, counter, pump, repeats=1 if tiny else 5 if quick else TIMING_REPEATS)
    result.seconds = time.perf_counter() - started
    return result


def _capacity_meter():
    import boto3

    from tests.benchmarks.cost import CapacityMeter

    client = boto3.client("dynamodb")

    def lookup(table, key):
        return client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def query_all(request):
        unprojected = {k: v for k, v in request.items() if k not in ("ProjectionExpression", "AttributesToGet")}
        names = unprojected.get("ExpressionAttributeNames") or {}
        used = " ".join(str(unprojected.get(k, "")) for k in ("KeyConditionExpression", "FilterExpression"))
        unprojected["ExpressionAttributeNames"] = {k: v for k, v in names.items() if k in used}
        if not unprojected["ExpressionAttributeNames"]:
            unprojected.pop("ExpressionAttributeNames")
        return client.query(**unprojected).get("Items") or []

    return CapacityMeter(lookup, query_all)


def _measure(result: Result, backend, counter: CallCounter, pump, repeats: int) -> None:
    from functions import list_messages, send_message, start_conversation, sync_events, ws_ack, ws_connect, ws_read
    from functions import add_reaction, delete_message, star_message, ws_send_message
    from tests.support.events import http_event, parse, ws_event
    redis_stats = RedisServerStats(backend.redis_url)
    counter.uncounted.append(redis_stats.client)
    recorder = backend.management_api
    alice, bob = "alice", "bob"

    def start(user, peer) -> str:
        event = http_event("start_conversation", user_id=user, path={"id": peer})
        status, body = parse(start_conversation.handler(event, None))
        assert status in (200, 201), (status, body)
        return body["conversation"]["id"]

    conversation_id = start(alice, bob)
    warmup_conversation = start(alice, "carol")
    devices = {alice: ["alice-phone", "alice-laptop"], bob: ["bob-phone", "bob-laptop"]}
    for user, connection_ids in devices.items():
        for connection_id in connection_ids:
            response = ws_connect.handler(ws_event("$connect", connection_id=connection_id, user_id=user), None)
            assert response["statusCode"] == 200, response

    def ws_send(client_message_id: str, content: str = "hello") -> tuple[int, dict]:
        body = {"action": "sendMessage", "conversation_id": conversation_id, "client_message_id": client_message_id,
                "type": "text", "content": content}
        response = ws_send_message.handler(
            ws_event("sendMessage", connection_id=devices[alice][0], user_id=alice, body=body), None
        )
        frame = parse(response)[1]
        if frame.get("type") != "message_ack":
            return 500, frame
        return (200 if frame["data"]["duplicate"] else 201), frame

    def http_send(client_message_id: str, conversation: str = conversation_id) -> tuple[int, dict]:
        body = {"client_message_id": client_message_id, "type": "text", "content": "hello"}
        event = http_event("send_message", user_id=alice, path={"id": conversation}, body=body)
        return parse(send_message.handler(event, None))

    def history() -> tuple[int, dict]:
        event = http_event("list_messages", user_id=bob, path={"id": conversation_id})
        return parse(list_messages.handler(event, None))

    def receipt(handler, action) -> tuple[int, dict]:
        body = {"action": action, "conversation_id": conversation_id, "message_id": last_sent["message_id"]}
        response = handler(ws_event(action, connection_id=devices[bob][0], user_id=bob, body=body), None)
        return (200, {}) if not response.get("body") else (400, parse(response)[1])

    def sync_page() -> tuple[int, dict]:
        return parse(sync_events.handler(http_event("sync_events", user_id=bob, query={"limit": "100"}), None))

    def on_message(function, user, body=None) -> tuple[int, dict]:
        name = function.__name__.rsplit(".", 1)[-1]
        event = http_event(name, user_id=user, path={"id": last_sent["message_id"]}, body=body)
        return parse(function.handler(event, None))

    emoji = iter(["👍", "❤️"] * 1000)

    def react() -> tuple[int, dict]:
        return on_message(add_reaction, bob, {"emoji": next(emoji)})

    def consumer(name: str):
        def deliver() -> tuple[int, dict]:
            delivered = pump.pump(only=name)
            return 200, {"records": delivered}

        return deliver

    # Warm up every client (DynamoDB tables, the pusher, Redis, the consumers) on another conversation.
    for _ in range(2):
        status, body = http_send(uuid.uuid4().hex, warmup_conversation)
        assert status == 201, (status, body)
    pump.drain()

    last_sent = {}

    def ws_first_send():
        last_sent["id"] = uuid.uuid4().hex
        status, frame = ws_send(last_sent["id"])
        last_sent["message_id"] = frame.get("data", {}).get("message", {}).get("id")
        return status, frame

    def fill_history():
        for _ in range(60 - 4):  # the conversation already holds 4 messages
            status, body = http_send(uuid.uuid4().hex)
        assert status == 201, (status, body)
        pump.drain()

    # (label, what, action, expected status, expected pushes, set-up before counting)
    cold_conversation = start(alice, "dave")

    def warm_up():  # a warm function has seen this conversation: participants and newest seq cached
        ws_first_send()
        pump.drain()

    scenarios = [
        ("send, WebSocket", "the hot path: sendMessage from one of the sender's 2 devices (recipient has 2), "
         "by a warm function that has seen the conversation", ws_first_send, 201, 3, warm_up),
        ("on_message_stored", "the messages stream's consumer, for that message (1 record)",
         consumer("on_message_stored"), 200, 0, None),
        ("append_user_events", "the user_conversations stream's consumer, for that message (2 records: both rows)",
         consumer("append_user_events"), 200, 0, None),
        ("retried send", "the same sendMessage again (same client_message_id)",
         lambda: ws_send(last_sent["id"]), 200, 3, None),
        ("send, HTTP", "POST …/messages; sender and recipient have 2 devices each",
         lambda: http_send(uuid.uuid4().hex), 201, 4, pump.drain),
        ("first send in a conversation", "POST …/messages to a conversation this function has not seen "
         "(participants and newest seq read once, then cached); the sender's 2 devices hear of it",
         lambda: http_send(uuid.uuid4().hex, cold_conversation), 201, 2, None),
        ("ack", "the recipient acks the first send's message: the sender's 2 devices get `receipt`",
         lambda: receipt(ws_ack.handler, "ack"), 200, 2, pump.drain),
        ("read", "then reads up to it: the sender's 2 devices and the reader's other device get `receipt`",
         lambda: receipt(ws_read.handler, "read"), 200, 3, None),
        ("history page", "GET …/messages: 50 newest of 60 (default page)", history, 200, 0, fill_history),
        ("sync page", "GET /sync: the recipient's first 100 events, rebuilt", sync_page, 200, 0, None),
        ("reaction", "POST /messages/{id}/reactions by the recipient (a new emoji each time): both users' 4 "
         "devices get `message_updated`", react, 200, 4, None),
        ("star", "POST /messages/{id}/star by the recipient: their 2 devices get `message_updated` (no one "
         "else)", lambda: on_message(star_message, bob), 200, 2, None),
        ("delete", "DELETE /messages/{id} by its sender, a fresh message each time: both users' 4 devices get "
         "`message_updated`", lambda: on_message(delete_message, alice), 200, 4, warm_up),
    ]
    counts = []
    for label, _, action, expected_status, expected_posts, setup in scenarios:
        if setup is not None:
            setup()
        redis_stats.reset()
        recorder.reset()
        counter.reset()
        status, body = action()
        counts.append(
            {
                "calls": Counter({f"{service}.{op}": n for (service, op), n in counter.calls.items()}),
                "attempts": sum(counter.attempts.values()),
                "redis_round_trips": counter.redis_round_trips,
                "posts": sum(len(frames) for frames in recorder.posts.values()),
                "redis": redis_stats.commands(),
                "capacity": copy.deepcopy(counter.meter.capacity),  # later set-ups and timings add to it
                "records": body.get("records") if isinstance(body, dict) else None,
                "before_first_push": counter.before_first_push,
            }
        )
        posts = counts[-1]["posts"]
        if status != expected_status or posts != expected_posts:
            result.add(f"{label}: outcome", f"status {status}, {posts} pushes",
                       f"{expected_status}, {expected_posts} pushes",
                       "FAIL", str(body)[:200])
        if label.startswith("send, "):  # issue 6: at most 2 DynamoDB requests and 1 Redis round trip before the pushes
            before = counts[-1]["before_first_push"] or {}
            within = before and before["dynamodb"] <= 2 and before["redis"] <= 1
            result.add(f"{label}: calls before the first push",
                       f"{before.get('dynamodb')} DynamoDB, {before.get('redis')} Redis round trip(s)",
                       "≤ 2 DynamoDB, ≤ 1 Redis", "ok" if within else "FAIL",
                       f"{counts[-1]['redis_round_trips']} Redis round trips in all (the cache invalidation goes "
                       "alongside the pushes)")
        if label == "history page" and len(body.get("messages", [])) != 50:
            result.add("history page: size", str(len(body.get("messages", []))), "50", "FAIL")

    # Wall time per scenario, repeated (a warm function against moto on this machine, not AWS). Consumers
    # are timed on fresh records: a send, then its consumer.
    timings = []
    for label, _, action, _, _, _ in scenarios:
        samples = []
        for _ in range(repeats):
            if label in ("on_message_stored", "append_user_events", "delete"):
                ws_first_send()
                if label == "append_user_events":
                    pump.pump(only="on_message_stored")
            redis_stats.client.flushall()  # the rate limit's windows: timed sends must not be refused
            t0 = time.perf_counter()
            action()
            elapsed = time.perf_counter() - t0
            if label in ("on_message_stored", "append_user_events"):
                elapsed = pump.handler_seconds[label]  # the consumer's own time, not the pump's reads
            samples.append(elapsed * 1000)
        timings.append(statistics.median(samples))

    services = {"dynamodb": "DynamoDB", "apigatewaymanagementapi": "Management API"}
    aws_ops = sorted({op for c in counts for op in c["calls"]}, key=lambda op: (op.split(".")[0] != "dynamodb", op))
    redis_ops = sorted({op for c in counts for op in c["redis"]})
    header = ["call"] + [label for label, *_ in scenarios]
    rows = []
    for op in aws_ops:
        service, operation = op.split(".", 1)
        rows.append([f"{services.get(service, service)} {operation}"] + [str(c["calls"].get(op, 0)) for c in counts])
    for op in redis_ops:
        rows.append([f"Redis {op}"] + [str(c["redis"].get(op, 0)) for c in counts])
    rows.append(["**DynamoDB calls**"] + [f"**{_service_total(c, 'dynamodb')}**" for c in counts])
    rows.append(["DynamoDB write / read units"]
                + [f"{c['capacity'].write_units:g} / {c['capacity'].read_units:g}" for c in counts])
    rows.append(["**Redis commands** (round trips)"]
                + [f"**{sum(c['redis'].values())}** ({c['redis_round_trips']})" for c in counts])
    rows.append(["before the first push: DynamoDB calls / Redis round trips waited for"]
                + [f"{b['dynamodb']} / {b['redis']}" if (b := c["before_first_push"]) else "—" for c in counts])
    rows.append(["**Management API posts** (received by the stub)"] + [f"**{c['posts']}**" for c in counts])
    rows.append(["HTTP requests to AWS APIs, incl. SDK retries"] + [str(c["attempts"]) for c in counts])
    rows.append([f"wall time, median of {repeats} (in-process, moto)"] + [ms(t) for t in timings])
    result.details.append(markdown_table(header, rows))
    result.details.append(
        "Scenarios: " + "; ".join(f"*{label}*: {what}" for label, what, *_ in scenarios) + ". "
        "The send rate limiter is on (Redis INCR + EXPIRE in one pipeline). Counts are per request of a warm "
        "function; the WebSocket send does not push back to the device it came from."
    )
    for (label, *_), c, t in zip(scenarios, counts, timings):
        result.add(
            f"per {label}",
            f"{_service_total(c, 'dynamodb')} DynamoDB ({c['capacity'].write_units:g} WRU, "
            f"{c['capacity'].read_units:g} RRU) · {sum(c['redis'].values())} Redis · {c['posts']} pushes",
            note=f"{ms(t)} in-process vs moto",
        )
        result.data[label] = {
            "aws_calls": dict(c["calls"]),
            "aws_http_attempts": c["attempts"],
            "redis_commands": dict(c["redis"]),
            "redis_round_trips": c["redis_round_trips"],
            "before_first_push": c["before_first_push"],
            "management_api_posts": c["posts"],
            "write_units": c["capacity"].write_units,
            "read_units": c["capacity"].read_units,
            "wall_ms_median": t,
        }
    _cost_per_million(result, dict(zip([label for label, *_ in scenarios], zip(counts, timings))))
    _sync_backlog(result, counter, pump, redis_stats, http_send, sync_events, http_event, parse,
                  missed=200 if repeats < TIMING_REPEATS else 1000)


def _sync_backlog(result, counter, pump, redis_stats, http_send, sync_events, http_event, parse, missed: int):
    """A recipient who missed `missed` messages catches up by sync, 500 events a page: time and calls."""
    pump.drain()  # what the timed sends above left for the consumers
    status, page = parse(sync_events.handler(http_event("sync_events", user_id="bob", query={"limit": "500"}), None))
    while page["has_more"]:
        status, page = parse(sync_events.handler(http_event(
            "sync_events", user_id="bob", query={"limit": "500", "since": page["next_cursor"]}), None))
    cursor = page["next_cursor"]
    for index in range(missed):
        if index % 100 == 0:
            redis_stats.client.flushall()  # the send rate limit's windows
        status, body = http_send(uuid.uuid4().hex)
        assert status == 201, (status, body)
    pump.drain()
    counter.reset()
    started, events, pages = time.perf_counter(), 0, 0
    while True:
        status, page = parse(sync_events.handler(http_event(
            "sync_events", user_id="bob", query={"limit": "500", "since": cursor}), None))
        assert status == 200, page
        events, pages, cursor = events + len(page["events"]), pages + 1, page["next_cursor"]
        if not page["has_more"]:
            break
    seconds = time.perf_counter() - started
    calls = Counter({op: n for (service, op), n in counter.calls.items() if service == "dynamodb"})
    result.add(
        f"sync of {missed} missed messages",
        f"{pages} pages, {sum(calls.values())} DynamoDB calls ({', '.join(f'{n} {op}' for op, n in sorted(calls.items()))}), "
        f"{counter.meter.capacity.read_units:g} RRU",
        f"{missed} events",
        "ok" if events == missed else "FAIL",  # the sender's reads never reach bob's log: exactly the messages
        note=f"{seconds * 1000:.0f} ms in-process vs moto",
    )
    result.data["sync_backlog"] = {"missed": missed, "events": events, "pages": pages, "dynamodb_calls": dict(calls),
                                   "read_units": counter.meter.capacity.read_units, "seconds": seconds}


def _cost_per_million(result: Result, measured: dict) -> None:
    """The AWS cost of one million 1-on-1 text messages (each user on one device), from the counts above."""
    from shared.routes import ROUTES
    from tests.benchmarks.cost import (
        FLOOR_PER_MESSAGE,
        GUARANTEES_BOUND_PER_MESSAGE,
        Capacity,
        dynamodb_cost,
        lambda_cost,
        websocket_cost,
    )

    memory = {route.name: route.memory_mb for route in ROUTES}
    send, _ = measured["send, WebSocket"]
    capacity = Capacity()
    for label in ("send, WebSocket", "on_message_stored", "append_user_events"):
        capacity.write_units += measured[label][0]["capacity"].write_units
        capacity.read_units += measured[label][0]["capacity"].read_units
    lines = []
    # Consumers are invoked per batch: alone when traffic is quiet, many records at once under load.
    for records_per_batch in (1, 10):
        parts = {
            "API Gateway WebSocket (in, ack, 1 push)": websocket_cost(3),
            "Lambda: send": lambda_cost(1, memory["ws_send_message"], measured["send, WebSocket"][1] / 1000),
            "Lambda: consumers": sum(
                lambda_cost(records / records_per_batch, memory[name], measured[name][1] / 1000)
                for name, records in (("on_message_stored", 1), ("append_user_events", 2))
            ),
            "DynamoDB": dynamodb_cost(capacity),
        }
        total = sum(parts.values())
        lines.append((records_per_batch, total, parts))
        result.add(
            f"cost per million messages, consumers at {records_per_batch} record(s) per invocation",
            f"${total * 1e6:.2f}",
            f"≤ 1.5 × floor ${FLOOR_PER_MESSAGE * 1e6:.2f} = ${1.5 * FLOOR_PER_MESSAGE * 1e6:.2f}",
            "ok" if total <= 1.5 * FLOOR_PER_MESSAGE else "MISSED",
            note=f"{total / FLOOR_PER_MESSAGE:.2f}× the floor",
        )
    result.add(
        "cost per million messages, least under issue 6's guarantees",
        f"${GUARANTEES_BOUND_PER_MESSAGE * 1e6:.2f}",
        note=f"{GUARANTEES_BOUND_PER_MESSAGE / FLOOR_PER_MESSAGE:.2f}× the floor: the floor's parts, a 2-item "
        "transaction (message + durable claim), one event-log entry per user, one consistent read; "
        "no Lambda time, no consumer, no conversation row",
    )
    header = ["part, per million messages"] + [f"consumers at {n} record(s)/invocation" for n, _, _ in lines]
    rows = [[name] + [f"${parts[name] * 1e6:.2f}" for _, _, parts in lines] for name in lines[0][2]]
    rows.append(["**total**"] + [f"**${total * 1e6:.2f}**" for _, total, _ in lines])
    rows.append(["× the floor ($%.2f)" % (FLOOR_PER_MESSAGE * 1e6)] + [f"{total / FLOOR_PER_MESSAGE:.2f}×" for _, total, _ in lines])
    result.details.append(markdown_table(header, rows))
    result.details.append(
        f"DynamoDB per message: {capacity.write_units:g} write units and {capacity.read_units:g} read units "
        "(the send's transaction, the recipient's row, both users' event-log entries; the connections read). "
        "Lambda durations are the in-process medians against moto (slower than DynamoDB: an upper bound); "
        "connection minutes are not per message and are left out, as in the floor."
    )
    result.data["cost_per_million"] = {str(n): total * 1e6 for n, total, _ in lines}
    result.data["write_units_per_message"] = capacity.write_units
    result.data["read_units_per_message"] = capacity.read_units


def _service_total(counts: dict, service: str) -> int:
    return sum(n for op, n in counts["calls"].items() if op.startswith(service + "."))


if __name__ == "__main__":
    from tests.benchmarks.run import main

    main(["--only", "calls_per_send"])
