"""The Redis circuit breaker (shared/storage/cache.py): open after a failure, skip while open, one trial after."""

import threading

import pytest
import redis.exceptions

from shared.storage.cache import Cache

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Redis:
    """Stands in for the client: counts calls, fails while `down`."""

    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    def get(self, key):
        self.calls += 1
        if self.down:
            raise redis.exceptions.TimeoutError("Timeout reading from socket")
        return f"value of {key}"


@pytest.fixture
def parts():
    client, clock = Redis(), Clock()
    return client, clock, Cache(client, breaker_seconds=5, clock=clock)


def get(cache, key="k"):
    return cache.call(lambda r: r.get(key), default="default", what="test")


def test_a_failure_answers_the_default_and_later_calls_skip_redis_until_the_period_ends(parts):
    client, clock, cache = parts
    assert get(cache) == "value of k"
    client.down = True
    assert get(cache) == "default" and cache.is_open
    clock.now += 4.9
    assert [get(cache) for _ in range(10)] == ["default"] * 10
    assert client.calls == 2


def test_after_the_period_one_call_tries_again_and_success_closes_the_breaker(parts):
    client, clock, cache = parts
    client.down = True
    get(cache)
    client.down = False
    clock.now += 5
    assert get(cache) == "value of k" and not cache.is_open
    assert get(cache) == "value of k" and client.calls == 3


def test_a_failed_trial_opens_the_breaker_for_another_period(parts):
    client, clock, cache = parts
    client.down = True
    get(cache)
    clock.now += 5
    assert get(cache) == "default" and client.calls == 2
    clock.now += 4
    assert get(cache) == "default" and client.calls == 2
    clock.now += 1
    get(cache)
    assert client.calls == 3


def test_while_the_trial_runs_other_calls_skip_redis(parts):
    client, clock, cache = parts
    client.down = True
    get(cache)
    clock.now += 5
    trial_started, finish_trial = threading.Event(), threading.Event()

    def slow_trial(r):
        trial_started.set()
        finish_trial.wait(5)
        return "trial"

    results = []
    trial = threading.Thread(target=lambda: results.append(cache.call(slow_trial, default="default", what="test")))
    trial.start()
    trial_started.wait(5)
    assert get(cache) == "default" and client.calls == 1  # skipped: the trial decides
    finish_trial.set()
    trial.join(5)
    assert results == ["trial"] and not cache.is_open


def test_errors_that_are_not_redis_failures_propagate_and_leave_the_breaker_closed(parts):
    _, _, cache = parts

    def broken(r):
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        cache.call(broken, default=None, what="test")
    assert not cache.is_open


def test_the_redis_client_loads_without_redis_pys_asyncio_half_and_the_rest_stays_reachable():
    """shared.storage.cache defers redis-py's package __init__ (a fresh process: this one imported redis already)."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import sys
from shared.storage.cache import redis_client
client = redis_client("redis://127.0.0.1:1", 0.1)
assert "redis.asyncio" not in sys.modules and "redis.cluster" not in sys.modules, "loaded at once"
import redis
from redis import asyncio
assert redis.Redis is type(client) and redis.asyncio is asyncio and redis.__version__
assert sys.modules["redis.asyncio"] is asyncio and redis.from_url("redis://x").connection_pool
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
