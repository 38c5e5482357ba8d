"""Rate limits in Redis (fixed windows): sends per user, typing frames per user and conversation.

Redis is optional: with no Redis, or while it fails (shared/storage/cache.py's breaker is open), nothing is
limited; a limiter must never be the reason a message is lost or slowed down.
"""

from __future__ import annotations

import time
from typing import Protocol

from shared import metrics

from shared.domain import limits
from shared.domain.errors import RateLimitedError

WINDOW_SECONDS = 60


class SendLimiter(Protocol):
    def check(self, user_id: str) -> None:
        """Raises RateLimitedError when the user has sent too much this window."""


class NoSendLimit:
    def check(self, user_id: str) -> None:
        return None


class FixedWindowLimiter:
    """At most `limit` hits per `window_seconds` for each key; one Redis round trip per check."""

    def __init__(self, cache, *, name: str, limit: int, window_seconds: int, clock=time.time):
        self._cache = cache  # shared.storage.cache.Cache, or None: no limit
        self._name = name
        self._limit = limit
        self._window = window_seconds
        self._clock = clock

    def hit(self, key: str, too_many: str) -> None:
        """Counts one hit for `key`; raises RateLimitedError(too_many) past the limit."""
        if self._cache is None or not self._limit:
            return
        now = self._clock()
        window = int(now // self._window)
        redis_key = f"ratelimit:{self._name}:{key}:{window}"

        def count(client) -> int:
            pipe = client.pipeline(transaction=False)
            pipe.incr(redis_key)
            pipe.expire(redis_key, self._window * 2)
            return pipe.execute()[0]

        hits = self._cache.call(count, default=None, what=f"{self._name} rate limit")
        if hits is not None and hits > self._limit:
            retry_after = max(1, int((window + 1) * self._window - now))
            raise RateLimitedError(too_many, retry_after_seconds=retry_after)


class RedisSendLimiter:
    def __init__(self, cache, limit_per_window: int, clock=time.time):
        self._limit = limit_per_window
        self._window = FixedWindowLimiter(cache, name="send", limit=limit_per_window, window_seconds=WINDOW_SECONDS, clock=clock)

    def check(self, user_id: str) -> None:
        try:
            self._window.hit(user_id, f"too many messages: at most {self._limit} a minute")
        except RateLimitedError:
            metrics.count(metrics.RATE_LIMITED_SENDS)
            raise


def typing_limiter(cache) -> FixedWindowLimiter:
    return FixedWindowLimiter(
        cache, name="typing", limit=limits.TYPING_LIMIT_PER_WINDOW, window_seconds=limits.TYPING_WINDOW_SECONDS
    )
