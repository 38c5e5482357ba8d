"""The brief's read caches in Redis: cache-aside, never the only copy, skipped when Redis is absent or down.

    msg:conv:{conversation}  the conversation's newest messages (the first history page), 1 h
    conv:list:{user}         the first page of the user's conversation list, 5 min
    unread:{user}            the user's unread total, 5 min

THE INVALIDATION HOOK — every write path calls it AFTER its DynamoDB write (also when the write raised: it
may have committed), one Redis round trip:

    read_cache.changed(conversation_id=…)   a message of the conversation was stored or changed (send,
                                            reaction, delete, reply preview, …)
    read_cache.changed(user_ids=[…])        those users' conversation rows changed (their list, unread
                                            counts, last-message previews and statuses)

The repositories call it themselves: ConversationRepository on every row write (`_move`, `create_direct`),
MessageRepository.store for a failed send. A stored send hands it back (`pending`) and the send runs it
alongside its pushes, before it answers: the one Redis round trip the send waits for before pushing is
its rate limit, and the sender still reads its own write. A new write to messages or rows
goes through one of them or calls the hook; tests/unit/test_read_cache_routes.py fails for a route that
writes either table without Redis in reach (`uses_redis`).

Races: a reader that misses reads the key's generation, then DynamoDB (consistently), then fills only if the
generation is unchanged (one Lua script on that one key); a writer deletes the value and bumps the
generation after its write. So a fill that started before a write can never put the old data back: either
it read DynamoDB after the write, or the write's bump makes its fill a no-op. Keys are single-key
(ElastiCache Serverless); each key is a hash {gen, data}.

Per-user derived fields (a message's status, hidden-for-me, starred) are not cached in the history: it holds
the messages as stored (with who hid or starred each), and the history route applies the caller's row (read
on every request) and the caller's id to them.

Without Redis (absent, or its breaker open, shared/storage/cache.py) every read goes to DynamoDB. An invalidation
that cannot reach Redis (down, or skipped while the breaker is open) is kept by the instance and sent before
its next use of the caches, so once Redis is back this instance never serves what it wrote past. Another
instance may, until the lost keys' owner comes back or the TTL ends; the history also checks the cached
page against the caller's row (its last seq, and the version of the message it names as its latest change),
so a sent message is never missing from it and a lost change ends once its consumer noted it on the rows
(README, "Caches").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from shared.storage.cache import Cache

T = TypeVar("T")

HISTORY_TTL_SECONDS = 3600
LIST_TTL_SECONDS = 300
UNREAD_TTL_SECONDS = 300
HISTORY_CACHED = 50  # messages in msg:conv:{conversation}: the default first page
LIST_CACHED = 50  # conversations in conv:list:{user}
# How long a bumped generation outlives its value: longer than any fill takes (DynamoDB calls give up
# after 7 s, shared/domain/limits.py).
_GENERATION_SECONDS = 60
_LOST_KEPT = 10_000

# Fill only if the generation is the one read before DynamoDB was read.
_FILL = """
if (redis.call('HGET', KEYS[1], 'gen') or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def history_key(conversation_id: str) -> str:
    return f"msg:conv:{conversation_id}"


def list_key(user_id: str) -> str:
    return f"conv:list:{user_id}"


def unread_key(user_id: str) -> str:
    return f"unread:{user_id}"


def _keys(conversation_id: str | None, user_ids: Iterable[str]) -> list[str]:
    keys = [history_key(conversation_id)] if conversation_id else []
    return keys + [key for user in user_ids for key in (list_key(user), unread_key(user))]


class PendingInvalidation:
    """An invalidation that runs once, however often it is called (from the pushes' pool or the caller)."""

    def __init__(self, invalidate: Callable[[], object]):
        self._invalidate: Callable[[], object] | None = invalidate
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            invalidate, self._invalidate = self._invalidate, None
        if invalidate is not None:
            invalidate()


class ReadCache:
    def __init__(self, cache: Cache | None):
        self._cache = cache
        self._fill_script = None
        self._lock = threading.Lock()
        self._lost: dict[str, None] = {}  # invalidations that did not reach Redis, oldest first

    @property
    def enabled(self) -> bool:
        """Whether fills may happen (their DynamoDB reads must then be consistent)."""
        return self._cache is not None

    def changed(self, conversation_id: str | None = None, user_ids: Iterable[str] = ()) -> None:
        """The hook (above)."""
        self._invalidate(_keys(conversation_id, user_ids))

    def pending(self, conversation_id: str | None = None, user_ids: Iterable[str] = ()) -> PendingInvalidation:
        """The hook, to run later, once: the send runs it alongside its pushes, and always before it answers."""
        return PendingInvalidation(lambda: self._invalidate(_keys(conversation_id, user_ids)))

    # Cache-aside reads: `load` reads DynamoDB (consistently) and returns something JSON can hold.
    def history(self, conversation_id: str, load: Callable[[], T]) -> T:
        return self._get_or_load(history_key(conversation_id), HISTORY_TTL_SECONDS, load)

    def conversation_list(self, user_id: str, load: Callable[[], T]) -> T:
        return self._get_or_load(list_key(user_id), LIST_TTL_SECONDS, load)

    def unread_total(self, user_id: str, load: Callable[[], int]) -> int:
        return self._get_or_load(unread_key(user_id), UNREAD_TTL_SECONDS, load)

    def _get_or_load(self, key: str, ttl: int, load: Callable[[], T]) -> T:
        if self._cache is None:
            return load()
        if self._lost and not self._invalidate([]):
            return load()  # this instance's writes may still be cached: don't read what it cannot clear
        found = self._cache.call(lambda client: client.hmget(key, "gen", "data"), None, what="read cache")
        if found is None:  # Redis skipped: no fill either
            return load()
        generation, data = found
        if data is not None:
            return json.loads(data)
        value = load()
        encoded = json.dumps(value, separators=(",", ":"))
        self._cache.call(
            lambda client: self._fill(client)(keys=[key], args=[generation or "", encoded, ttl]), None, what="read cache"
        )
        return value

    def _fill(self, client):
        if self._fill_script is None:
            self._fill_script = client.register_script(_FILL)  # EVALSHA, loaded on first use
        return self._fill_script

    def _invalidate(self, keys: list[str]) -> bool:
        """True when Redis has the keys (and any lost before them) invalidated."""
        if self._cache is None:
            return True
        with self._lock:
            keys = list(dict.fromkeys([*self._lost, *keys]))
            self._lost.clear()
        if not keys:
            return True

        def invalidate(client):
            # Value first, then the generation: a reader between the two misses, and reads DynamoDB after
            # the write. One round trip for all keys.
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hdel(key, "data")
                pipe.hincrby(key, "gen", 1)
                pipe.expire(key, _GENERATION_SECONDS)
            pipe.execute()
            return True

        if self._cache.call(invalidate, False, what="cache invalidation"):
            return True
        with self._lock:  # kept for the next try (bounded: the TTLs cover what is dropped)
            self._lost = dict.fromkeys([*keys, *self._lost][-_LOST_KEPT:])
        return False
