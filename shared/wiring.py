"""The composition root: builds each service's dependencies from configuration, once per process.

Functions call these; tests build their own dependencies (with fakes where a unit test needs them).
Imports stay inside the factories so a function loads only what it uses (the authorizers never load
PynamoDB, list endpoints never load redis-py).
"""

from __future__ import annotations

import functools


@functools.cache
def conversations():
    from shared.repositories.conversations import ConversationRepository

    return ConversationRepository()


@functools.cache
def connections():
    from shared.repositories.connections import ConnectionRepository

    return ConnectionRepository()


@functools.cache
def messages():
    from shared.repositories.messages import MessageRepository

    return MessageRepository()


@functools.cache
def event_log():
    from shared.repositories.event_log import EventLogRepository

    return EventLogRepository()


@functools.cache
def cache():
    """Redis behind its circuit breaker (shared/cache.py), one per process; None without REDIS_URL."""
    from shared.config import load_config

    config = load_config()
    if not config.redis_url:
        return None
    from shared.cache import Cache, redis_client

    client = redis_client(config.redis_url, config.redis_timeout_seconds)
    return Cache(client, breaker_seconds=config.redis_breaker_seconds)


@functools.cache
def messaging():
    from shared.config import load_config
    from shared.push import ManagementApiPusher
    from shared.ratelimit import NoSendLimit, RedisSendLimiter
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
    )


@functools.cache
def heartbeats():
    """Presence heartbeats in Redis (no storage client: a warm `ping` loads no PynamoDB)."""
    from shared.config import load_config
    from shared.presence import PresenceHeartbeats

    return PresenceHeartbeats(cache(), load_config().presence_ttl_seconds)


@functools.cache
def presence():
    from shared.services.presence import PresenceDeps

    return PresenceDeps(messaging=messaging(), heartbeats=heartbeats())


@functools.cache
def typing_limiter():
    from shared.ratelimit import typing_limiter

    return typing_limiter(cache())


@functools.cache
def token_verifier():
    from shared.auth import TokenVerifier
    from shared.config import load_auth_config
    from shared.secrets import load_secret_string

    return TokenVerifier(load_auth_config(), load_secret=load_secret_string)


def reset() -> None:
    """Forgets everything built here and the configuration it was built from (tests and benchmarks call
    this after changing the environment)."""
    from shared import config

    config.load_config.cache_clear()
    config.load_auth_config.cache_clear()
    for factory in (
        conversations,
        connections,
        messages,
        event_log,
        cache,
        messaging,
        heartbeats,
        presence,
        typing_limiter,
        token_verifier,
    ):
        factory.cache_clear()
