"""A slow or dead Redis costs a send nothing: the real send handler against a real redis-server that the test
stops (SIGSTOP) and kills (SIGKILL). Speed is the benchmarks' business; these count what reaches Redis."""

import os
import signal
import time

import pytest
import redis.client
import redis.connection

from shared import wiring
from shared.storage.tables import MessageRecord
from tests.component.test_messaging import send, start
from tests.support.redis_server import running_redis

pytestmark = pytest.mark.component


@pytest.fixture
def own_redis(backend, monkeypatch):
    """A redis-server of this test's own (the session's one must not be stopped), as REDIS_URL."""
    with running_redis() as (url, process):
        monkeypatch.setenv("REDIS_URL", url)
        wiring.reset()
        try:
            yield process
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)


class RedisTraffic:
    """What functions tried in Redis: `operations` (a command, or a pipeline of commands) and `writes` to a
    Redis socket (so a retry or a connection set-up shows)."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.writes = 0


@pytest.fixture
def redis_traffic(monkeypatch):
    traffic = RedisTraffic()

    def counting(method, record):
        def run(client, *args, **kwargs):
            record()
            return method(client, *args, **kwargs)

        return run

    for cls, name in ((redis.client.Redis, "execute_command"), (redis.client.Pipeline, "execute")):
        monkeypatch.setattr(cls, name, counting(getattr(cls, name), lambda n=name: traffic.operations.append(n)))
    connection = redis.connection.AbstractConnection

    def count_write():
        traffic.writes += 1

    monkeypatch.setattr(connection, "send_packed_command", counting(connection.send_packed_command, count_write))
    return traffic


def configure(monkeypatch, **settings):
    for name, value in settings.items():
        monkeypatch.setenv(name, str(value))
    wiring.reset()


def test_after_one_timeout_sends_skip_a_stopped_redis(own_redis, redis_traffic, monkeypatch):
    configure(monkeypatch, REDIS_BREAKER_SECONDS=600)
    conversation_id = start("alice", "bob")
    assert send("alice", conversation_id, "redis is fine", client_message_id="before")[0] == 201
    assert not wiring.cache().is_open
    operations_before, writes_before = len(redis_traffic.operations), redis_traffic.writes

    os.kill(own_redis.pid, signal.SIGSTOP)
    statuses = [send("alice", conversation_id, f"m{i}", client_message_id=f"stopped-{i}")[0] for i in range(5)]

    assert statuses == [201] * 5
    # The first send after the stop waited out the timeout (its rate limit); the rest skipped Redis.
    assert len(redis_traffic.operations) - operations_before == 1
    assert redis_traffic.writes - writes_before == 1  # once: no retry
    assert wiring.cache().is_open
    assert MessageRecord.count(conversation_id) == 6


def test_a_killed_redis_is_skipped_too(own_redis, redis_traffic, monkeypatch):
    configure(monkeypatch, REDIS_BREAKER_SECONDS=600)
    conversation_id = start("alice", "bob")
    assert send("alice", conversation_id, "redis is fine", client_message_id="before")[0] == 201
    own_redis.kill()
    own_redis.wait()
    attempts_before = len(redis_traffic.operations)

    statuses = [send("alice", conversation_id, f"m{i}", client_message_id=f"killed-{i}")[0] for i in range(5)]

    assert statuses == [201] * 5
    assert wiring.cache().is_open
    # The first send found its pooled connection dead (one write at most, then a refused reconnect).
    assert len(redis_traffic.operations) - attempts_before <= 2
    assert MessageRecord.count(conversation_id) == 6


def test_once_redis_answers_again_the_breaker_closes_and_rate_limits_return(own_redis, redis_traffic, monkeypatch):
    configure(monkeypatch, REDIS_BREAKER_SECONDS=0.5, SEND_RATE_LIMIT_PER_MINUTE=3)
    conversation_id = start("alice", "bob")
    operations_before = len(redis_traffic.operations)
    os.kill(own_redis.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    assert [send("alice", conversation_id, f"m{i}", client_message_id=f"s{i}")[0] for i in range(5)] == [201] * 5
    # alice was not limited while Redis was skipped: one try per breaker period, not one per call (a slow
    # machine may see a second period start while alice sends)
    tries = len(redis_traffic.operations) - operations_before
    assert wiring.cache().is_open and 1 <= tries <= 1 + (time.monotonic() - stopped_at) / 0.5

    os.kill(own_redis.pid, signal.SIGCONT)
    time.sleep(0.6)  # the breaker's period: the next call is the trial
    resumed = len(redis_traffic.operations)
    statuses = [send("bob", conversation_id, f"b{i}", client_message_id=f"b{i}")[0] for i in range(5)]

    assert statuses == [201, 201, 201, 429, 429]
    # Each send's rate limit, and each stored one's cache invalidation (shared/storage/repositories/read_cache.py).
    assert not wiring.cache().is_open and len(redis_traffic.operations) - resumed == 5 + 3
