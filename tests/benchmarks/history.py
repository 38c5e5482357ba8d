"""Loading history through `parley local`: GET /conversations/{id}/messages (default page: 50 newest)
in a conversation holding ~500 messages, one request at a time; then a walk through every page by
cursor, which must return each message exactly once, newest first."""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.benchmarks.common import Result, markdown_table, ms, summarize, under
from tests.benchmarks.local import client_for, client_session, local_runtime, run_id

TARGET_MS = 300
MESSAGES = 500
SEED_CONCURRENCY = 8


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("history", "loading a page of history through `parley local`")
    with local_runtime() as runtime:
        # tiny: two pages, enough to walk by cursor.
        asyncio.run(_bench(runtime, 3 if tiny else 30 if quick else 100, result, 60 if tiny else MESSAGES))
    return result


async def _seed(alice, bob, conversation_id: str, messages: int) -> float:
    """Sends `messages` messages (both ways, over HTTP); returns the seconds it took."""
    gate = asyncio.Semaphore(SEED_CONCURRENCY)
    started = time.perf_counter()

    async def send(index: int):
        async with gate:
            sender = alice if index % 3 else bob
            client_message_id = uuid.uuid4().hex
            for _ in range(5):  # 503: too many sends at once in one conversation; retry, as a client does
                status, body = await sender.send(conversation_id, f"history message {index} " + "x" * 40, client_message_id)
                if status != 503:
                    break
                await asyncio.sleep(0.2)
            if status != 201:
                raise RuntimeError(f"seeding: HTTP {status} {body}")

    await asyncio.gather(*(send(i) for i in range(messages)))
    return time.perf_counter() - started


async def _bench(runtime, requests: int, result: Result, messages: int = MESSAGES) -> None:
    run = run_id()
    async with client_session() as session:
        alice = client_for(session, runtime, f"hist-alice-{run}")
        bob = client_for(session, runtime, f"hist-bob-{run}")
        conversation_id = await alice.start_conversation(f"hist-bob-{run}")
        seed_seconds = await _seed(alice, bob, conversation_id, messages)
        path = f"/conversations/{conversation_id}/messages"

        for _ in range(3):  # warm-up: the function imported, its clients made
            await bob.request("GET", path)

        first_page_ms, sizes, bad = [], [], 0
        for index in range(requests):
            reader = bob if index % 2 else alice
            started = time.perf_counter()
            async with reader.session.get(reader.http_url + path,
                                          headers={"authorization": f"Bearer {reader.token}"}) as response:
                body = await response.read()
                status = response.status
            first_page_ms.append((time.perf_counter() - started) * 1000)
            sizes.append(len(body))
            if status != 200:
                bad += 1

        # Every page by cursor: each message exactly once, newest first.
        page_ms, seen, cursor, pages = [], [], None, 0
        while True:
            started = time.perf_counter()
            status, body = await bob.request("GET", path, params={"cursor": cursor} if cursor else None)
            page_ms.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"history walk: HTTP {status} {body}")
            pages += 1
            seen += [message["seq"] for message in body["messages"]]
            cursor = body["next_cursor"]
            if not cursor:
                break

    s = summarize(first_page_ms)
    result.add(f"GET …/messages (50 newest of {messages}) p50/p95/p99",
               f"{ms(s['p50'])} / {ms(s['p95'])} / {ms(s['p99'])}", f"p99 < {TARGET_MS} ms",
               under(s["p99"], TARGET_MS), f"n={s['n']}, sequential, {sum(sizes) // len(sizes) // 1024} KB a page")
    walk = summarize(page_ms)
    result.add("every page by cursor, p50 per page", ms(walk["p50"]), f"p99 < {TARGET_MS} ms",
               under(walk["p99"], TARGET_MS), f"{pages} pages, {len(seen)} messages")
    newest_first = seen == list(range(messages, 0, -1))  # seqs are gap-free: N, N-1, …, 1
    complete = len(seen) == messages and len(set(seen)) == messages and newest_first
    if bad or not complete:
        result.add("history correctness", f"{bad} failed requests; walk returned {len(seen)} messages "
                   f"({len(set(seen))} distinct, {'newest first' if newest_first else 'OUT OF ORDER'})",
                   f"0; {messages} distinct, newest first", "FAIL")
    result.details.append(markdown_table(
        ["request", "n", "p50", "p95", "p99", "max", "mean"],
        [
            ["first page (default limit 50)", str(s["n"])] + [ms(s[k]) for k in ("p50", "p95", "p99", "max", "mean")],
            ["each page of a full walk by cursor"] + [str(walk["n"])]
            + [ms(walk[k]) for k in ("p50", "p95", "p99", "max", "mean")],
        ],
    ))
    result.details.append(f"Seeded {messages} messages over HTTP ({SEED_CONCURRENCY} at a time) "
                          f"in {seed_seconds:.1f} s "
                          f"({messages / seed_seconds:.0f} sends/s). Readers alternate between the two participants; "
                          "each request includes the HTTP authorizer's invocation, as on AWS.")
    result.data = {"first_page": s, "walk_page": walk, "pages": pages, "messages_seen": len(seen),
                   "page_bytes": sum(sizes) / len(sizes), "seed_seconds": seed_seconds, "failed_requests": bad}


if __name__ == "__main__":
    from tests.benchmarks.run import main

    raise SystemExit(main(["--only", "history"]))
