"""Per-user send rate limits in Redis (fixed one-minute windows).

Redis is optional: with no Redis, or while it fails (shared/cache.py's breaker is open), sends are not
limited; a limiter must never be the reason a message is lost or slowed down.
"""

from __future__ import annotations

import time
from typing import Protocol

from shared import metrics
from shared.errors import RateLimitedError

WINDOW_SECONDS = 60


class SendLimiter(Protocol):
    def check(self, user_id: str) -> None:
        """Raises RateLimitedError when the user has sent too much this window."""


class NoSendLimit:
    def check(self, user_id: str) -> None:
        return None


class RedisSendLimiter:
    def __init__(self, cache, limit_per_window: int, clock=time.time):
        self._cache = cache  # shared.cache.Cache
        self._limit = limit_per_window
        self._clock = clock

    def check(self, user_id: str) -> None:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        key = f"ratelimit:send:{user_id}:{window}"

        def count_this_send(client) -> int:
            pipe = client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
            return pipe.execute()[0]

        count = self._cache.call(count_this_send, default=None, what="send rate limit")
        if count is not None and count > self._limit:
            metrics.count(metrics.RATE_LIMITED_SENDS)
            retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now))
            raise RateLimitedError(
                f"too many messages: at most {self._limit} a minute", retry_after_seconds=retry_after
            )
