"""Configuration, read once from the environment and validated here; nothing else reads os.environ."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from shared.domain import limits
from shared.resources import (
    JWKS_URL_ENV,
    JWT_AUDIENCE_ENV,
    JWT_ISSUER_ENV,
    JWT_SECRET_ARN_ENV,
    JWT_SECRET_ENV,
    PRESENCE_TTL_ENV,
    REDIS_BREAKER_ENV,
    REDIS_TIMEOUT_ENV,
    MEDIA_BUCKET_ENV,
    REDIS_URL_ENV,
    SEARCH_BUCKET_ENV,
    SEND_RATE_LIMIT_ENV,
    TABLE_ENV,
    WS_MANAGEMENT_URL_ENV,
)


class ConfigError(RuntimeError):
    """The environment is missing or has a malformed setting."""


@dataclass(frozen=True)
class Config:
    redis_url: str | None
    # Redis is an accelerator: a command gets this long before it counts as failed, and after a failure
    # Redis is skipped for the breaker's seconds (shared/storage/cache.py).
    redis_timeout_seconds: float
    redis_breaker_seconds: float
    ws_management_url: str | None
    send_rate_limit_per_minute: int
    presence_ttl_seconds: int = limits.DEFAULT_PRESENCE_TTL_SECONDS


@dataclass(frozen=True)
class AuthConfig:
    """How tokens are verified: an HS256 secret (given, or in Secrets Manager) or RS256 through a JWKS URL."""

    secret: str | None
    secret_arn: str | None
    jwks_url: str | None
    issuer: str | None
    audience: str | None


def table_name(logical: str) -> str:
    """The physical name of a table; defaults suit the local runtime and tests."""
    return os.environ.get(TABLE_ENV[logical]) or f"parley-{logical}"


def aws_endpoint_override(service: str) -> str | None:
    """The endpoint botocore sends `service` calls to instead of AWS's (the local runtime, tests, LocalStack)."""
    service_env = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_").replace(" ", "_")
    return os.environ.get(service_env) or os.environ.get("AWS_ENDPOINT_URL") or None


def media_bucket() -> str:
    """The media bucket's name; the default suits the local runtime and tests."""
    return os.environ.get(MEDIA_BUCKET_ENV) or "parley-media"


def search_bucket() -> str:
    """The bucket holding the per-user search indexes; the default suits the local runtime and tests."""
    return os.environ.get(SEARCH_BUCKET_ENV) or "parley-search-indexes"


def aws_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def _seconds_setting(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds")
    return value


def lambda_initialization_type() -> str | None:
    """How Lambda started this process (on-demand, provisioned-concurrency, snap-start); None off Lambda."""
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") or None


@functools.cache
def load_config() -> Config:
    return Config(
        redis_url=os.environ.get(REDIS_URL_ENV) or None,
        redis_timeout_seconds=_seconds_setting(REDIS_TIMEOUT_ENV, limits.DEFAULT_REDIS_TIMEOUT_SECONDS),
        redis_breaker_seconds=_seconds_setting(REDIS_BREAKER_ENV, limits.DEFAULT_REDIS_BREAKER_SECONDS),
        ws_management_url=os.environ.get(WS_MANAGEMENT_URL_ENV) or None,
        send_rate_limit_per_minute=_int_setting(SEND_RATE_LIMIT_ENV, limits.DEFAULT_SEND_RATE_LIMIT_PER_MINUTE),
        presence_ttl_seconds=_int_setting(PRESENCE_TTL_ENV, limits.DEFAULT_PRESENCE_TTL_SECONDS) or 1,
    )


@functools.cache
def load_auth_config() -> AuthConfig:
    config = AuthConfig(
        secret=os.environ.get(JWT_SECRET_ENV) or None,
        secret_arn=os.environ.get(JWT_SECRET_ARN_ENV) or None,
        jwks_url=os.environ.get(JWKS_URL_ENV) or None,
        issuer=os.environ.get(JWT_ISSUER_ENV) or None,
        audience=os.environ.get(JWT_AUDIENCE_ENV) or None,
    )
    if not (config.secret or config.secret_arn or config.jwks_url):
        raise ConfigError(f"set {JWT_SECRET_ENV}, {JWT_SECRET_ARN_ENV} or {JWKS_URL_ENV} to verify tokens")
    return config
