"""The read caches (shared/storage/repositories/read_cache.py): the first history page and the conversation list,
served from Redis vs read from DynamoDB.

The real HTTP handlers run in this process, warm, against a moto server and a real redis-server, one request
at a time, in three situations each: a cache hit; a miss (the key dropped before each request: DynamoDB's
consistent read plus the fill); no Redis at all (REDIS_URL unset: DynamoDB only, as with `-c redis=false`).
The history is the default page (50 newest) of a conversation of HISTORY_MESSAGES; the list is the first
page of a user with LIST_CONVERSATIONS conversations.
"""

from __future__ import annotations

import os
import time
import uuid

from tests.benchmarks.common import Result, in_process_backend, markdown_table, ms, reset_clients, summarize

HISTORY_MESSAGES = 200
LIST_CONVERSATIONS = 200
REQUESTS, QUICK_REQUESTS = 60, 20


def run(quick: bool = False) -> Result:
    result = Result("read_cache", "history first page and conversation list: Redis cache vs DynamoDB, in-process")
    with in_process_backend() as backend:
        os.environ["SEND_RATE_LIMIT_PER_MINUTE"] = "0"  # seeding sends faster than a person may
        try:
            _measure(result, backend, QUICK_REQUESTS if quick else REQUESTS, quick)
        finally:
            os.environ.pop("SEND_RATE_LIMIT_PER_MINUTE", None)
    return result


def _measure(result: Result, backend, requests: int, quick: bool) -> None:
    import redis

    from functions import list_conversations, list_messages, send_message, start_conversation
    from shared.storage.repositories.read_cache import history_key, list_key
    from tests.support.events import http_event, parse

    reset_clients()  # the rate limit setting above
    run = uuid.uuid4().hex[:6]
    alice, bob = f"rc-alice-{run}", f"rc-bob-{run}"

    def start(user: str, peer: str) -> str:
        event = http_event("start_conversation", user_id=user, path={"id": peer})
        return parse(start_conversation.handler(event, None))[1]["conversation"]["id"]

    conversation_id = start(alice, bob)
    for index in range(HISTORY_MESSAGES // (4 if quick else 1)):
        body = {"client_message_id": f"m{index}", "type": "text", "content": f"message {index} " + "x" * 60}
        event = http_event("send_message", user_id=alice, path={"id": conversation_id}, body=body)
        status = parse(send_message.handler(event, None))[0]
        if status != 201:
            raise RuntimeError(f"seeding: HTTP {status}")
    for index in range(LIST_CONVERSATIONS // (4 if quick else 1)):
        start(alice, f"rc-peer{index}-{run}")

    history_event = http_event("list_messages", user_id=bob, path={"id": conversation_id})
    list_event = http_event("list_conversations", user_id=alice)
    client = redis.Redis.from_url(backend.redis_url)
    reads = [
        ("history, first page (50)", list_messages, history_event, history_key(conversation_id)),
        ("conversation list, first page (50)", list_conversations, list_event, list_key(alice)),
    ]
    situations = [("from Redis (hit)", True, False), ("miss: DynamoDB + fill", True, True), ("no Redis: DynamoDB", False, False)]
    rows, errors = [], 0
    for what, function, event, key in reads:
        for label, with_redis, drop in situations:
            if not with_redis:
                os.environ.pop("REDIS_URL", None)
            reset_clients()
            try:
                for _ in range(3):  # warm: clients made, the cache filled
                    function.handler(event, None)
                samples = []
                for _ in range(requests):
                    if drop:
                        client.delete(key)
                    started = time.perf_counter()
                    status = parse(function.handler(event, None))[0]
                    samples.append((time.perf_counter() - started) * 1000)
                    errors += status != 200
            finally:
                os.environ["REDIS_URL"] = backend.redis_url
            stats = summarize(samples)
            result.add(f"{what}, {label}", ms(stats["p50"]), note=f"p99 {ms(stats['p99'])}, {len(samples)} requests")
            rows.append([what, label, ms(stats["p50"]), ms(stats["p95"]), ms(stats["p99"])])
            result.data[f"{what}, {label}"] = stats
    reset_clients()
    if errors:
        result.add("requests not answered 200", str(errors), verdict="FAIL")
    result.details.append(markdown_table(["read", "situation", "p50", "p95", "p99"], rows))
    result.details.append(
        "A history hit still reads the caller's row (one consistent GetItem: membership and the status markers) "
        "and replaces the messages Query with one Redis round trip; a list hit is one Redis round trip and no "
        "DynamoDB call. A miss adds the Redis read and the fill to a consistent (double-cost) DynamoDB read. "
        "moto answers locally in a few ms of CPU per call, so the gap on AWS (single-digit ms per DynamoDB "
        "call, sub-ms Redis in the same VPC) is smaller than here, and the list's gap grows with the number of "
        "conversations read and sorted."
    )


if __name__ == "__main__":
    from tests.benchmarks.run import main

    main(["--only", "read_cache"])
