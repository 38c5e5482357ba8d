"""Send latency with Redis stopped: what a stalled Redis costs a send.

The real HTTP send handler runs in this process, warm, against a moto server, a real redis-server and a
recording management API, sending one message at a time (the rate limiter on, as by default). Three
situations, each with its own sender:
- Redis answering;
- Redis stopped (SIGSTOP: it accepts connections and never answers) with the circuit breaker effectively
  off (REDIS_BREAKER_SECONDS=1e-6): every send tries Redis and waits out REDIS_TIMEOUT_SECONDS, as every
  send did before the breaker existed;
- Redis stopped with the breaker as deployed (REDIS_BREAKER_SECONDS's default): the first send waits out
  the timeout, the ones after it skip Redis.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

from tests.benchmarks.common import Result, in_process_backend, markdown_table, ms, reset_clients, summarize

SENDS = 40
QUICK_SENDS = 12


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("redis_stopped", "send latency with Redis stopped (SIGSTOP), in-process, warm")
    sends = 3 if tiny else QUICK_SENDS if quick else SENDS
    with in_process_backend() as backend:
        _measure(result, backend, sends)
    return result


def _measure(result: Result, backend, sends: int) -> None:
    import redis

    from functions import send_message, start_conversation
    from shared.domain import limits
    from tests.support.events import http_event, parse

    redis_pid = redis.Redis.from_url(backend.redis_url).info("server")["process_id"]

    def timed_sends(user: str, stop_redis: bool) -> tuple[list[float], list[int]]:
        event = http_event("start_conversation", user_id=user, path={"id": f"{user}-peer"})
        conversation_id = parse(start_conversation.handler(event, None))[1]["conversation"]["id"]
        for _ in range(2):  # warm up (clients, the Redis connection) before measuring
            _send(send_message, http_event, parse, user, conversation_id)
        if stop_redis:
            os.kill(redis_pid, signal.SIGSTOP)
        samples, statuses = [], []
        for _ in range(sends):
            started = time.perf_counter()
            statuses.append(_send(send_message, http_event, parse, user, conversation_id))
            samples.append((time.perf_counter() - started) * 1000)
        return samples, statuses

    situations = [
        ("Redis answering", None, False),
        ("Redis stopped, breaker off (before)", "0.000001", True),
        (f"Redis stopped, breaker on ({limits.DEFAULT_REDIS_BREAKER_SECONDS:g} s, after)", None, True),
    ]
    rows = []
    for index, (label, breaker_seconds, stop_redis) in enumerate(situations):
        if breaker_seconds is not None:
            os.environ["REDIS_BREAKER_SECONDS"] = breaker_seconds
        reset_clients()
        try:
            samples, statuses = timed_sends(f"sender{index}-{uuid.uuid4().hex[:6]}", stop_redis)
        finally:
            os.kill(redis_pid, signal.SIGCONT)
            os.environ.pop("REDIS_BREAKER_SECONDS", None)
        stats = summarize(samples)
        errors = [s for s in statuses if s != 201]
        result.add(f"send p50, {label}", ms(stats["p50"]), verdict="FAIL" if errors else "",
                   note=f"p99 {ms(stats['p99'])}, {len(samples)} sends" + (f", {len(errors)} not 201" if errors else ""))
        rows.append([label, str(stats["n"]), ms(stats["p50"]), ms(stats["p95"]), ms(stats["p99"]), ms(stats["max"])])
        result.data[label] = stats | {"non_201": len(errors)}
    reset_clients()
    result.details.append(markdown_table(["situation", "sends", "p50", "p95", "p99", "max"], rows))
    result.details.append(
        f"One send at a time through the real handler (in-process, moto). REDIS_TIMEOUT_SECONDS is "
        f"{limits.DEFAULT_REDIS_TIMEOUT_SECONDS:g}: with the breaker off every send waits it out; with the breaker "
        "on only the first send after Redis stops does (it is the max), and on AWS one send per function "
        "instance per breaker period."
    )


def _send(send_message, http_event, parse, user: str, conversation_id: str) -> int:
    body = {"client_message_id": uuid.uuid4().hex, "type": "text", "content": "hello"}
    event = http_event("send_message", user_id=user, path={"id": conversation_id}, body=body)
    return parse(send_message.handler(event, None))[0]


if __name__ == "__main__":
    from tests.benchmarks.run import main

    main(["--only", "redis_stopped"])
