"""Calls per operation: DynamoDB API calls, Redis commands and management-API posts for one send.

The real handlers run in this process against a moto server, a real redis-server and a recording
management API (all on 127.0.0.1). Counting:
- DynamoDB (and every other AWS API): a `before-call` handler on every botocore client created while
  counting (PynamoDB's, the pusher's), keyed by service and operation; `before-send` counts HTTP
  attempts, so SDK retries would show as attempts > calls;
- Redis: the server's own `INFO commandstats`, reset before each scenario, plus client round trips
  (a pipeline is one round trip);
- management API: what the recording stub received.

Numbers are for a warm function (clients created, Redis connected): a cold first call adds nothing to
the counts but its connection setup (see cold_start.py for its time).
"""

from __future__ import annotations

import contextlib
import statistics
import time
import uuid
from collections import Counter

from tests.benchmarks.common import Result, in_process_backend, markdown_table, ms, reset_clients

TIMING_REPEATS = 20


class CallCounter:
    def __init__(self):
        self.calls: Counter[tuple[str, str]] = Counter()
        self.attempts: Counter[tuple[str, str]] = Counter()
        self.redis_round_trips = 0
        self.uncounted: list = []  # Redis clients of the harness itself

    def reset(self):
        self.calls.clear()
        self.attempts.clear()
        self.redis_round_trips = 0

    def _on(self, counter: Counter):
        def handler(event_name: str, **kwargs):
            _, service, operation = event_name.split(".", 2)
            counter[(service, operation)] += 1

        return handler

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
            return client

        def execute_command(client, *args, **kwargs):
            if client not in counter.uncounted:
                counter.redis_round_trips += 1
            return original_execute_command(client, *args, **kwargs)

        def pipeline_execute(pipeline, *args, **kwargs):
            counter.redis_round_trips += 1 if pipeline.command_stack else 0
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


def run(quick: bool = False) -> Result:
    result = Result("calls_per_send", "AWS, Redis and management-API calls per operation (in-process, warm)")
    started = time.perf_counter()
    with in_process_backend() as backend:
        # The send rate limiter is on (its default), so its Redis commands are counted.
        reset_clients()
        counter = CallCounter()
        with counter.installed():
            _measure(result, backend, counter, repeats=5 if quick else TIMING_REPEATS)
    result.seconds = time.perf_counter() - started
    return result


def _measure(result: Result, backend, counter: CallCounter, repeats: int) -> None:
    from functions import list_messages, send_message, start_conversation, ws_connect, ws_send_message
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

    # Warm up every client (DynamoDB tables, the pusher, Redis) on another conversation.
    for _ in range(2):
        status, body = http_send(uuid.uuid4().hex, warmup_conversation)
        assert status == 201, (status, body)

    last_sent = {}

    def ws_first_send():
        last_sent["id"] = uuid.uuid4().hex
        return ws_send(last_sent["id"])

    scenarios = [
        ("first send, WebSocket", "sendMessage from one of the sender's 2 devices; recipient has 2",
         ws_first_send, 201, 3),
        ("retried send", "the same sendMessage again (same client_message_id)",
         lambda: ws_send(last_sent["id"]), 200, 3),
        ("first send, HTTP", "POST …/messages; sender and recipient have 2 devices each",
         lambda: http_send(uuid.uuid4().hex), 201, 4),
        ("history page", "GET …/messages: 50 newest of 60 (default page)", history, 200, 0),
    ]
    counts = []
    for label, _, action, expected_status, expected_posts in scenarios:
        if label == "history page":
            for _ in range(60 - 2):  # the conversation already holds 2 messages
                assert http_send(uuid.uuid4().hex)[0] == 201
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
            }
        )
        posts = counts[-1]["posts"]
        if status != expected_status or posts != expected_posts:
            result.add(f"{label}: outcome", f"status {status}, {posts} pushes",
                       f"{expected_status}, {expected_posts} pushes",
                       "FAIL", str(body)[:200])
        if label == "history page" and len(body.get("messages", [])) != 50:
            result.add("history page: size", str(len(body.get("messages", []))), "50", "FAIL")

    # Wall time per scenario, repeated (a warm function against moto on this machine, not AWS).
    timings = []
    for label, _, action, _, _ in scenarios:
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            action()
            samples.append((time.perf_counter() - t0) * 1000)
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
    rows.append(["**Redis commands** (round trips)"]
                + [f"**{sum(c['redis'].values())}** ({c['redis_round_trips']})" for c in counts])
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
            f"{_service_total(c, 'dynamodb')} DynamoDB · {sum(c['redis'].values())} Redis · {c['posts']} pushes",
            note=f"{ms(t)} in-process vs moto",
        )
        result.data[label] = {
            "aws_calls": dict(c["calls"]),
            "aws_http_attempts": c["attempts"],
            "redis_commands": dict(c["redis"]),
            "redis_round_trips": c["redis_round_trips"],
            "management_api_posts": c["posts"],
            "wall_ms_median": t,
        }


def _service_total(counts: dict, service: str) -> int:
    return sum(n for op, n in counts["calls"].items() if op.startswith(service + "."))


if __name__ == "__main__":
    from tests.benchmarks.run import main

    main(["--only", "calls_per_send"])
