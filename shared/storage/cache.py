"""Redis, behind a circuit breaker: the one way every Redis use goes (rate limits today; presence, typing and
caches later). redis-py is imported only by functions that use it.

Redis is an accelerator, never on the critical path. After a failure the breaker opens and every call
answers its `default` at once, without touching Redis, for `breaker_seconds`; then one call tries Redis
again (half-open): success closes the breaker, failure opens it for another period. So a stalled Redis
costs one socket timeout per period per process, not one per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from shared.log import logger
from shared.package_init import defer_package_init

T = TypeVar("T")


class Cache:
    def __init__(self, client, *, breaker_seconds: float, clock: Callable[[], float] = time.monotonic):
        defer_package_init("redis")  # its exceptions alone
        from redis.exceptions import RedisError

        self._client = client
        self._breaker_seconds = breaker_seconds
        self._clock = clock
        self._failures = (RedisError, OSError)
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._trial_running = False

    @property
    def is_open(self) -> bool:
        """True while calls skip Redis (including while one trial call is deciding whether it is back)."""
        with self._lock:
            return self._open_until is not None

    def call(self, operation: Callable[..., T], default: T, *, what: str) -> T:
        """`operation(client)`, or `default` if the breaker is open or the call fails (which opens it).
        `what` names the use in logs: "rate limit", "presence", …"""
        with self._lock:
            trial = self._open_until is not None
            if trial and (self._trial_running or self._clock() < self._open_until):
                return default
            self._trial_running = trial
        try:
            result = operation(self._client)
        except self._failures as error:
            with self._lock:
                newly_open = self._open_until is None
                self._open_until = self._clock() + self._breaker_seconds
                self._trial_running = False
            if newly_open:
                logger.warning(
                    "Redis unavailable: skipping it, then trying again",
                    extra={"error": repr(error), "during": what, "retry_in_seconds": self._breaker_seconds},
                )
            return default
        except BaseException:
            with self._lock:
                self._trial_running = False
            raise
        if trial:
            with self._lock:
                self._open_until = None
                self._trial_running = False
            logger.info("Redis is back", extra={"during": what})
        return result


def redis_client(url: str, timeout_seconds: float):
    defer_package_init("redis")  # redis-py's client alone, not its asyncio, cluster and sentinel ones
    from redis.backoff import NoBackoff
    from redis.client import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    # One immediate retry on a dropped connection (a pooled connection the server closed); never on a
    # timeout: the breaker, not a retry loop, decides when to try a slow Redis again.
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        decode_responses=True,
    )
