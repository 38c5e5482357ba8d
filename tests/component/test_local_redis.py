"""`parley local`'s own redis-server: when it dies the runtime restarts it (no zombie left behind), and rate
limiting works again; when it cannot come back, the runtime says so once and carries on without it."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

import pytest
import redis

from infra.local.services import LocalServices, RedisServer
from shared.auth import LOCAL_DEV_SECRET, mint_token

pytestmark = [
    pytest.mark.component,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def _post(url: str, user: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {mint_token(user, LOCAL_DEV_SECRET)}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _redis_pid(url: str) -> int | None:
    try:
        return redis.Redis.from_url(url, socket_timeout=1).info("server")["process_id"]
    except redis.RedisError:
        return None


def _process_exists(pid: int) -> bool:
    """Any state, a zombie included (a child the runtime never reaped)."""
    return os.path.exists(f"/proc/{pid}")


def test_a_killed_redis_server_is_restarted_and_rate_limiting_works_again():
    from tests.support.local_runtime import run_local_runtime

    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET")}
    env |= {"SEND_RATE_LIMIT_PER_MINUTE": "3", "REDIS_BREAKER_SECONDS": "0.5"}
    with run_local_runtime(env=env) as rt:
        def sends(user: str, count: int) -> list[int]:
            conversation_id = _post(f"{rt.http_url}/conversations/{user}-peer", user)[1]["conversation"]["id"]
            url = f"{rt.http_url}/conversations/{conversation_id}/messages"
            body = {"type": "text", "content": "hi"}
            return [_post(url, user, body | {"client_message_id": f"m{i}"})[0] for i in range(count)]

        assert sends("alice", 4) == [201, 201, 201, 429]
        old_pid = _redis_pid(rt.redis_url)
        os.kill(old_pid, signal.SIGKILL)

        assert sends("bob", 1) == [201]  # Redis down or just back: the send does not care
        deadline = time.monotonic() + 15
        while (_redis_pid(rt.redis_url) in (None, old_pid) or _process_exists(old_pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        new_pid = _redis_pid(rt.redis_url)
        assert new_pid not in (None, old_pid), rt.output()
        assert not _process_exists(old_pid), "the dead redis-server was left a zombie"
        assert f"redis-server (pid {old_pid}) died (killed by signal 9): restarting it" in rt.output()

        time.sleep(0.6)  # past REDIS_BREAKER_SECONDS: the functions try Redis again
        assert sends("carol", 4) == [201, 201, 201, 429]


def test_a_redis_server_that_cannot_come_back_is_reported_gone(caplog):
    services = LocalServices(aws_endpoint_url="", redis_url="", embedded_aws=False, _redis=RedisServer.start())
    server = services._redis
    try:
        server.process.kill()
        server.process.wait()
        with socket.socket() as squatter:  # something else takes its port before it can restart
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", server.port))
            squatter.listen()
            with caplog.at_level(logging.WARNING, logger="local.services"):
                services.keep_redis_running()
                services.keep_redis_running()  # said once, not again at every check
        assert services.redis_gone
        gone = [r for r in caplog.records if "Redis is gone" in r.getMessage()]
        assert len(gone) == 1 and gone[0].levelno == logging.ERROR
        assert "sends are not rate limited" in gone[0].getMessage()
    finally:
        services.stop()
