"""The Redis client, created once per process. redis-py is imported only by functions that use it."""

from __future__ import annotations

import functools


@functools.cache
def redis_client(url: str):
    import redis

    # Short timeouts: Redis is an accelerator here, never worth a slow request.
    return redis.Redis.from_url(
        url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30, decode_responses=True
    )
