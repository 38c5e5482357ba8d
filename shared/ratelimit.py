"""Per-user send rate limits in Redis (fixed one-minute windows).

Redis is optional: with no Redis, or when it fails, sends are not limited (and that is logged);
a limiter must never be the reason a message is lost.
"""

from __future__ import annotations

import time
from typing import Protocol

from shared.errors import RateLimitedError
from shared.log import logger

WINDOW_SECONDS = 60


class SendLimiter(Protocol):
    def check(self, user_id: str) -> None:
        """Raises RateLimitedError when the user has sent too much this window."""


class NoSendLimit:
    def check(self, user_id: str) -> None:
        return None


class RedisSendLimiter:
    def __init__(self, client, limit_per_window: int, clock=time.time):
        self._client = client
        self._limit = limit_per_window
        self._clock = clock

    def check(self, user_id: str) -> None:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        key = f"ratelimit:send:{user_id}:{window}"
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
            count, _ = pipe.execute()
        except Exception as error:  # any Redis failure: degrade to no limit
            logger.warning("rate limiter unavailable", extra={"error": repr(error)})
            return
        if count > self._limit:
            retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now))
            raise RateLimitedError(
                f"too many messages: at most {self._limit} a minute", retry_after_seconds=retry_after
            )
