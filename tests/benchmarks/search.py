"""Search over one user's index of 100,000 messages (10,000 with --quick), kept in S3 (moto) as the
search_indexer consumer keeps it: the index's size, what one consumer batch costs once it is that big, and
how long a search takes with the function's /tmp copy current (warm) and without one (cold).

Message texts: 4–14 words drawn from 20,000 made-up words with Zipf frequencies (a few words are in most
messages, most words in a handful), about 60 characters, a tenth with accented letters.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
import time

from tests.benchmarks.common import Result, markdown_table, ms, summarize

BUCKET = "parley-search-bench"
USER = "bench-search-user"
TARGET_MS = 300  # the history target; the brief gives none for search
# AWS list prices (us-east-1): S3 PUT $0.005 per 1,000, GET $0.0004 per 1,000; Lambda arm64 $0.0000133334
# per GB-second and $0.20 per million requests; DynamoDB on-demand reads $0.125 per million (4 KB).
S3_PUT, S3_GET = 0.005 / 1000, 0.0004 / 1000
LAMBDA_GB_SECOND, LAMBDA_REQUEST = 0.0000133334, 0.20 / 1_000_000
DYNAMODB_READ = 0.125 / 1_000_000
INDEXER_MEMORY_GB = 1.0  # the route's memory size


def _texts(count: int, seed: int = 7) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnoprstuvwy"
    vocabulary = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(20_000)]
    accented = {word: word.replace("e", "é").replace("a", "à") for word in vocabulary[:2000]}
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    words = rng.choices(vocabulary, weights, k=count * 14)
    texts, at = [], 0
    for _ in range(count):
        length = rng.randint(4, 14)
        chosen = words[at : at + length]
        at += length
        if rng.random() < 0.1:
            chosen = [accented.get(word, word) for word in chosen]
        texts.append(" ".join(chosen).capitalize())
    return texts, vocabulary


def run(quick: bool = False, tiny: bool = False) -> Result:
    from tests.benchmarks.common import in_process_backend

    result = Result("search", "search latency and index cost, one user, index in S3 (moto)")
    count = 1_000 if tiny else 10_000 if quick else 100_000
    with in_process_backend() as backend, _scratch() as scratch:
        import boto3

        boto3.client("s3", endpoint_url=backend.moto_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        _bench(result, count, scratch, quick or tiny)
    return result


@contextlib.contextmanager
def _scratch():
    directory = tempfile.mkdtemp(prefix="parley-search-bench-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _bench(result: Result, count: int, scratch: str, quick: bool) -> None:
    from shared.storage.repositories.search_indexes import S3SearchIndexes, index_key
    from shared.storage.search_index import IndexEntry

    texts, vocabulary = _texts(count)
    base_ms = 1_750_000_000_000
    entries = [IndexEntry(f"dm_{i % 40:032d}", i // 40 + 1, base_ms + i * 1000, text) for i, text in enumerate(texts)]

    # 1. Build the index in one go (a backfill), then store it.
    writer = S3SearchIndexes(BUCKET, os.path.join(scratch, "writer"))
    started = time.perf_counter()
    writer.apply(USER, entries, [])  # lands in `recent`, then folds into `main`
    build_seconds = time.perf_counter() - started
    size = max(item.stat().st_size for item in os.scandir(os.path.join(scratch, "writer")))

    # 2. What a consumer batch costs at that size: 10 new messages for this user, applied and stored.
    batches, batch_ms = 5 if quick else 10, []
    for batch in range(batches):
        new = [
            IndexEntry("dm_new", batch * 10 + k + 1, base_ms + (count + batch * 10 + k) * 1000, f"fresh note {batch} {k}")
            for k in range(10)
        ]
        started = time.perf_counter()
        writer.apply(USER, new, [])
        batch_ms.append((time.perf_counter() - started) * 1000)
    batch = summarize(batch_ms)
    # A delete: the entry is in `main`, which is rewritten.
    started = time.perf_counter()
    writer.apply(USER, [], [(entries[count // 2].conversation_id, entries[count // 2].seq)])
    removal_ms = (time.perf_counter() - started) * 1000

    # 3. Searches: warm (the /tmp copy is current: one GET answered 304) and cold (a fresh instance downloads).
    frequent = vocabulary[0]
    rare = next(word for word in vocabulary[15_000:] if len(word) >= 7)
    queries = {
        "a frequent word": frequent,
        "a rare word": rare,
        "two-letter prefix": frequent[:2],
        "three words": " ".join(vocabulary[1:4]),
        "accented query": frequent.replace("e", "É"),
        "no match": "zzzzqqq",
        "operators and quotes": '"NOT" OR * (',
    }
    reader = S3SearchIndexes(BUCKET, os.path.join(scratch, "reader"))
    with reader.reading(USER):  # the first read downloads
        pass
    repeats = 10 if quick else 30
    rows, data = [], {}
    for label, query in queries.items():
        timings, found = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            with reader.reading(USER) as index:
                found = len(index.search(query, limit=50))
            timings.append((time.perf_counter() - started) * 1000)
        stats = summarize(timings)
        data[label] = stats | {"results": found}
        rows.append([label, repr(query), str(found), ms(stats["p50"]), ms(stats["p99"])])
    cold_ms = []
    for attempt in range(3):
        fresh = S3SearchIndexes(BUCKET, os.path.join(scratch, f"cold-{attempt}"))
        started = time.perf_counter()
        with fresh.reading(USER) as index:
            index.search(frequent, limit=50)
        cold_ms.append((time.perf_counter() - started) * 1000)
    cold = summarize(cold_ms)
    warm_p50 = max(stats["p50"] for stats in data.values())

    # Cost per million messages: each message is indexed for both participants. A consumer batch holding
    # k of a user's messages costs one GET (304 when warm) and one PUT of `recent`; Lambda time as measured
    # above. Folds (one per RECENT_ENTRIES messages) and deletes are left out: they are rare.
    def per_million(messages_per_batch: int) -> float:
        updates = 2 * 1_000_000 / messages_per_batch
        lambda_seconds = updates * batch["p50"] / 1000
        return updates * (S3_PUT + S3_GET) + lambda_seconds * INDEXER_MEMORY_GB * LAMBDA_GB_SECOND + (
            2 * 1_000_000 * DYNAMODB_READ  # each participant's consumer reads the message once
        ) + updates * LAMBDA_REQUEST

    result.add(f"index size, {count:,} messages", f"{size / 1e6:.1f} MB", note=f"{size / count:.0f} bytes a message")
    result.add("index build (backfill)", f"{build_seconds:.1f} s", note=f"{build_seconds / count * 1e6:.0f} µs a message")
    result.add("consumer batch at that size (10 new messages)", f"p50 {ms(batch['p50'])}",
               note="into `recent`: GET 304 + copy + insert + PUT")
    result.add("a delete at that size", ms(removal_ms), note="rewrites `main`: copy + delete + PUT")
    result.add("search, warm /tmp copy, slowest query kind p50", ms(warm_p50), f"< {TARGET_MS} ms", "ok" if warm_p50 < TARGET_MS else "MISSED")
    result.add("search, cold (downloads the index)", f"p50 {ms(cold['p50'])}")
    result.add("index cost per million messages", f"${per_million(1):.2f} worst, ${per_million(10):.2f} at 10 a batch",
               note="S3 requests + Lambda GB-s + message reads")
    result.details.append(
        markdown_table(["query", "text", "results (limit 50)", "p50", "p99"], rows)
        + f"\n\nConsumer batch p50/p99: {ms(batch['p50'])} / {ms(batch['p99'])} over {batches} batches; "
        f"cold searches: {', '.join(ms(v) for v in cold_ms)}."
    )
    result.data = {"messages": count, "index_bytes": size, "build_seconds": build_seconds, "batch_ms": batch, "removal_ms": removal_ms,
                   "queries": data, "cold_ms": cold, "key": index_key(USER, "main")}
