"""The composition root: builds each service's dependencies from configuration, once per process.

Functions call these; tests build their own dependencies (with fakes where a unit test needs them).
Imports stay inside the factories so a function loads only what it uses (the authorizers never load
PynamoDB; only functions given REDIS_URL load redis-py).
"""

from __future__ import annotations

import functools
import sys


@functools.cache
def read_cache():
    """The read caches (histories, lists, unread totals) and their invalidation hook: Redis when configured."""
    from shared.storage.repositories.read_cache import ReadCache

    return ReadCache(cache())


@functools.cache
def conversations():
    from shared.storage.repositories.conversations import ConversationRepository

    return ConversationRepository(read_cache())


@functools.cache
def connections():
    from shared.storage.repositories.connections import ConnectionRepository

    return ConnectionRepository()


@functools.cache
def messages():
    from shared.storage.repositories.messages import MessageRepository

    return MessageRepository(read_cache())


@functools.cache
def event_log():
    from shared.storage.repositories.event_log import EventLogRepository

    return EventLogRepository()


@functools.cache
def cache():
    """Redis behind its circuit breaker (shared/storage/cache.py), one per process; None without REDIS_URL."""
    from shared.config import load_config

    config = load_config()
    if not config.redis_url:
        return None
    from shared.storage.cache import Cache, redis_client

    client = redis_client(config.redis_url, config.redis_timeout_seconds)
    return Cache(client, breaker_seconds=config.redis_breaker_seconds)


@functools.cache
def messaging():
    from shared.config import load_config
    from shared.realtime.push import ManagementApiPusher
    from shared.realtime.ratelimit import NoSendLimit, RedisSendLimiter
    from shared.services.messaging import MessagingDeps

    config = load_config()
    limiter = NoSendLimit()
    if cache() is not None and config.send_rate_limit_per_minute:
        limiter = RedisSendLimiter(cache(), config.send_rate_limit_per_minute)
    return MessagingDeps(
        conversations=conversations(),
        messages=messages(),
        connections=connections(),
        pusher=ManagementApiPusher(config.ws_management_url) if config.ws_management_url else None,
        limiter=limiter,
        media=_MadeOnFirstUse(media),  # only media messages use it: most routes never load its code
    )


class _MadeOnFirstUse:
    """Stands for what `make()` returns (a cached factory below), made when first used: a service's deps
    name every part it may need, and a rarely used part's code (~6 ms for media's) loads only if used."""

    def __init__(self, make):
        self._make = make

    def __getattr__(self, name: str):
        return getattr(self._make(), name)


@functools.cache
def media():
    from shared.config import aws_region, load_config, media_bucket
    from shared.realtime.push import ManagementApiPusher
    from shared.storage.repositories.media import MediaRepository
    from shared.storage.repositories.media_store import MediaStore
    from shared.services.media import MediaDeps

    config = load_config()
    return MediaDeps(
        media=MediaRepository(),
        store=MediaStore(media_bucket(), aws_region()),
        connections=connections(),
        pusher=ManagementApiPusher(config.ws_management_url) if config.ws_management_url else None,
    )


@functools.cache
def heartbeats():
    """Presence heartbeats in Redis (no storage client: a warm `ping` loads no PynamoDB)."""
    from shared.config import load_config
    from shared.realtime.presence import PresenceHeartbeats

    return PresenceHeartbeats(cache(), load_config().presence_ttl_seconds)


@functools.cache
def presence():
    from shared.services.presence import PresenceDeps

    return PresenceDeps(messaging=messaging(), heartbeats=heartbeats())


@functools.cache
def typing_limiter():
    from shared.realtime.ratelimit import typing_limiter

    return typing_limiter(cache())


@functools.cache
def token_verifier():
    from shared.auth import TokenVerifier
    from shared.config import load_auth_config
    from shared.secrets import load_secret_string

    return TokenVerifier(load_auth_config(), load_secret=load_secret_string)


@functools.cache
def stars():
    from shared.storage.repositories.stars import StarRepository

    return StarRepository()


@functools.cache
def search():
    from shared.config import search_bucket
    from shared.storage.repositories.search_indexes import S3SearchIndexes
    from shared.services.search import SearchDeps

    return SearchDeps(indexes=S3SearchIndexes(search_bucket()), messages=messages(), conversations=conversations())


# Lambda runs a function's init phase (the import of its handler module) with a full vCPU whatever its memory
# size, and each invocation with its memory's share (256 MB: about a seventh of a vCPU): what the first request
# would make costs several times less wall clock made during init. SnapStart is left out: a snapshot would
# keep the credentials the clients were made with.
_PREPARE_AT_INIT = ("on-demand", "provisioned-concurrency")


def prepare_at_init(function: str) -> None:
    """On Lambda, during init: the clients `function`'s route will use (its route table entry says which) —
    PynamoDB's DynamoDB client, Redis, the management API, S3 — and the authorizers' PyJWT and Secrets Manager
    secret. Objects only, no connection (the secret aside). Off Lambda (tests, `parley local`) nothing:
    everything is made on first use. A failure here is logged and left to the first request.
    The wiring's caches make the same objects the handler gets."""
    from shared.config import lambda_initialization_type

    if lambda_initialization_type() not in _PREPARE_AT_INIT:
        return
    from shared.routes import ROUTES

    route = next((r for r in ROUTES if r.name == function), None)
    if route is None:
        return
    # Storage and pushes only where the import loaded their code: `ws_ping` loads them for a lapsed heartbeat only.
    loaded = sys.modules
    try:
        if route.tables and "shared.storage.repositories.storage" in loaded:
            from shared.storage.repositories.storage import transaction_connection

            transaction_connection().client  # noqa: B018 - the models share it (shared/storage/aws.py)
        if route.uses_redis:
            cache()
        if route.manages_connections and "shared.realtime.push" in loaded and (pusher := messaging().pusher) is not None:
            pusher.prepare()
        if route.search_indexes:
            search().indexes.prepare()
        if route.api == "authorizer":
            token_verifier().prepare()
    except Exception:
        from shared.log import logger

        logger.warning("could not prepare the clients at init: they are made on first use", exc_info=True)


def reset() -> None:
    """Forgets every per-process cache — configuration, repositories, clients, connections — so the next
    call reads the environment again and connects afresh. Tests and benchmarks call this after pointing
    the process at another backend; on Lambda a process never changes backend.

    The caches are found, not listed: a list falls behind the code (a cached transaction connection it
    missed outlived its moto server and failed the benchmark harness's later steps with 503)."""
    import sys

    for name, module in list(sys.modules.items()):
        if module is None or name.split(".", 1)[0] not in ("shared", "functions"):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == name:
                value.cache_clear()
    if tables := sys.modules.get("shared.storage.tables"):  # only if loaded: the authorizers never load PynamoDB
        for model in tables.TABLE_MODELS.values():
            model._connection = None  # PynamoDB keeps one TableConnection (and its botocore client) per model
