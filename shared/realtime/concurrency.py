"""Runs independent I/O calls (DynamoDB, the management API) at the same time.

Only leaf calls go to the pool, never work that itself waits on the pool, so it cannot deadlock
however many requests share it (the local runtime runs every function in one process).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# How many calls run at once; HTTP clients that serve the pool (the management API's) keep as many
# connections, so no call waits for a connection or opens a throwaway one.
IO_CONCURRENCY = 16

_pool = ThreadPoolExecutor(max_workers=IO_CONCURRENCY, thread_name_prefix="io")


def run_concurrently(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each call's result, in order; waits for all, then raises the first failure if any."""
    if len(calls) <= 1:
        return [call() for call in calls]
    # Each call runs in a copy of the caller's context: its log lines keep the invocation's keys.
    futures = [_pool.submit(contextvars.copy_context().run, call) for call in calls]
    errors = [future.exception() for future in futures]
    for error in errors:
        if error is not None:
            raise error
    return [future.result() for future in futures]
