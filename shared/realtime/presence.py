"""Presence heartbeats in Redis: one sorted set, `presence:heartbeats`, user -> epoch ms of their last
heartbeat ($connect or `ping`). A user whose heartbeat is older than the presence TTL has lapsed (their
devices vanished without a $disconnect); the presence sweeper pops them and tells their peers.

One key, so every command is single-key (ElastiCache Serverless). With Redis absent or failing (the
breaker in shared/storage/cache.py is open), every call answers its neutral default: presence then follows the
connections table alone.
"""

from __future__ import annotations

HEARTBEATS_KEY = "presence:heartbeats"

# Pops, atomically, the users whose last heartbeat is at or before ARGV[1] (at most ARGV[2] of them), so a
# ping racing the sweeper either lands first (the user is not popped) or after (it starts a new heartbeat).
_POP_LAPSED = """
local found = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #found, 2 do redis.call('ZREM', KEYS[1], found[i]) end
return found
"""


class PresenceHeartbeats:
    def __init__(self, cache, ttl_seconds: int):
        self._cache = cache  # shared.storage.cache.Cache, or None without Redis
        self._ttl_ms = ttl_seconds * 1000

    def beat(self, user_id: str, now_ms: int) -> bool:
        """Records a heartbeat; True when the user had lapsed (so their peers were told they went offline)."""

        def beat(client) -> bool:
            pipe = client.pipeline(transaction=False)
            pipe.zscore(HEARTBEATS_KEY, user_id)
            pipe.zadd(HEARTBEATS_KEY, {user_id: now_ms})
            previous, _ = pipe.execute()
            return previous is None or float(previous) < now_ms - self._ttl_ms

        return self._call(beat, False)

    def fresh(self, user_ids: list[str], now_ms: int) -> dict[str, bool]:
        """Whether each user has a heartbeat within the TTL; everyone counts as fresh without Redis."""

        def scores(client) -> dict[str, bool]:
            values = client.zmscore(HEARTBEATS_KEY, user_ids) if user_ids else []
            return {u: v is not None and float(v) >= now_ms - self._ttl_ms for u, v in zip(user_ids, values)}

        return self._call(scores, {user_id: True for user_id in user_ids})

    def end(self, user_id: str) -> None:
        """The user's last connection closed: no heartbeat to watch any more."""
        self._call(lambda client: client.zrem(HEARTBEATS_KEY, user_id), None)

    def pop_lapsed(self, now_ms: int, limit: int = 500) -> list[tuple[str, int]]:
        """Users whose heartbeat lapsed, with its time, removed from the set."""

        def pop(client) -> list[tuple[str, int]]:
            found = client.eval(_POP_LAPSED, 1, HEARTBEATS_KEY, now_ms - self._ttl_ms, limit)
            return [(found[i], int(float(found[i + 1]))) for i in range(0, len(found), 2)]

        return self._call(pop, [])

    def _call(self, operation, default):
        if self._cache is None:
            return default
        return self._cache.call(operation, default=default, what="presence")
