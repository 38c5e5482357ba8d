"""Parley's Redis client (shared/redis_client.py) against a real redis-server: the same commands reach Redis
and the same answers come back as from redis-py with the settings it replaced; a dropped connection is
retried once, a password and a database in the URL are used, an idle connection is checked first."""

import pytest
import redis

from shared import redis_client as client_module
from shared.cache import redis_client, redis_py_client
from tests.support.redis_server import running_redis

pytestmark = pytest.mark.component


def workload(client) -> list:
    """What Parley's repositories send (shared/ratelimit.py, presence.py, repositories/read_cache.py), and errors."""
    answers = []
    pipe = client.pipeline(transaction=False)
    pipe.incr("ratelimit:send:alice:1")
    pipe.expire("ratelimit:send:alice:1", 120)
    answers.append(pipe.execute())
    pipe = client.pipeline(transaction=False)
    pipe.zscore("presence:heartbeats", "alice")
    pipe.zadd("presence:heartbeats", {"alice": 1767225600000})
    answers.append(pipe.execute())
    answers.append(client.zadd("presence:heartbeats", {"bob": 1767225500000, "carol": 1767225700000}))
    answers.append(client.zmscore("presence:heartbeats", ["alice", "nobody", "bob"]))
    answers.append(client.eval("return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES')", 1,
                               "presence:heartbeats", 1767225600000))
    answers.append((client.zrem("presence:heartbeats", "bob"), client.zscore("presence:heartbeats", "bob")))
    answers.append(client.hmget("msg:conv:c1", "gen", "data"))
    fill = client.register_script("redis.call('HSET', KEYS[1], 'data', ARGV[1]) return redis.call('HGET', KEYS[1], 'data')")
    answers.append(fill(keys=["msg:conv:c1"], args=["[{\"text\":\"héllo ✓\"}]"]))
    client.execute_command("SCRIPT", "FLUSH")  # a restarted or failed-over Redis: NOSCRIPT, then SCRIPT LOAD
    answers.append(fill(keys=["msg:conv:c1"], args=["again"]))
    pipe = client.pipeline(transaction=False)
    pipe.hdel("msg:conv:c1", "data")
    pipe.hincrby("msg:conv:c1", "gen", 1)
    pipe.expire("msg:conv:c1", 7200)
    answers.append(pipe.execute())
    answers.append(client.hmget("msg:conv:c1", ["gen", "data"]))
    answers.append(client.ping())
    for failing in (lambda: client.hincrby("presence:heartbeats", "x", 1), lambda: client.evalsha("0" * 40, 0)):
        with pytest.raises(redis.exceptions.ResponseError) as error:
            failing()
        answers.append((type(error.value), str(error.value)))
    pipe = client.pipeline(transaction=False)
    pipe.incr("counter")
    pipe.hincrby("presence:heartbeats", "x", 1)
    with pytest.raises(redis.exceptions.ResponseError) as error:
        pipe.execute()
    answers.append(str(error.value))
    with pytest.raises(redis.exceptions.DataError):
        client.hdel("msg:conv:c1", None)
    return answers


def test_answers_and_commands_are_redis_pys(redis_url):
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    results = {}
    for make in (redis_py_client, redis_client):
        admin.flushall()
        admin.script_flush()
        admin.config_resetstat()
        results[make.__name__] = workload(make(redis_url, 0.5))
        stats = admin.info("commandstats")
        results[make.__name__].append({name: value["calls"] for name, value in stats.items()
                                       if name not in ("cmdstat_flushall", "cmdstat_config|resetstat", "cmdstat_info")})
    ours, theirs = results["redis_client"], results["redis_py_client"]
    # redis-py names itself to the server, and PINGs a new connection before its first command; ours does neither.
    theirs[-1] = {name: calls for name, calls in theirs[-1].items() if not name.startswith("cmdstat_client")}
    theirs[-1]["cmdstat_ping"] -= 1
    assert ours == theirs
    assert ours[0] == [1, True] and ours[3] == [1767225600000.0, None, 1767225500000.0]


def test_a_dropped_connection_is_retried_once_on_a_new_one(redis_url):
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    client = redis_client(redis_url, 0.5)
    assert client.incr("n") == 1
    admin.client_kill_filter(_type="normal", skipme=True)  # the server closes the pooled connection

    assert client.incr("n") == 2


def test_password_and_database_from_the_url():
    with running_redis() as (url, _process):
        admin = redis.Redis.from_url(url, decode_responses=True)
        admin.config_set("requirepass", "s3cret/+")
        authenticated = url.replace("redis://", "redis://:s3cret%2F%2B@").rsplit("/", 1)[0] + "/3"
        client = redis_client(authenticated, 0.5)
        assert client.incr("in-db-3") == 1
        check = redis.Redis.from_url(authenticated, decode_responses=True)
        assert check.get("in-db-3") == "1" and check.execute_command("SELECT", 0) and not check.exists("in-db-3")
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis_client(url.replace("redis://", "redis://:wrong@"), 0.5).incr("x")


def test_a_connection_idle_past_the_health_check_period_is_pinged_first(redis_url, monkeypatch):
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    client = redis_client(redis_url, 0.5)
    client.incr("n")
    admin.config_resetstat()
    client.incr("n")
    monkeypatch.setattr(client_module, "HEALTH_CHECK_SECONDS", -1)
    client.incr("n")
    calls = {name: value["calls"] for name, value in admin.info("commandstats").items()}
    assert calls["cmdstat_ping"] == 1 and calls["cmdstat_incrby"] == 2
