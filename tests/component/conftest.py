"""Component fixtures: a real moto server, a real Redis, a recording management API over HTTP."""

from __future__ import annotations

import urllib.request

import boto3
import pytest
import redis as redis_lib
from moto.server import ThreadedMotoServer

from infra.local import moto_streams
from infra.local.services import Environment, create_bucket
from shared import config, wiring
from shared.storage.tables import TABLE_MODELS
from tests.conftest import MOTO_PORT
from tests.support.management_api import RecordingManagementApi
from tests.support.redis_server import running_redis


def reset_wiring():
    wiring.reset()


@pytest.fixture(scope="session")
def moto_url():
    # What `parley local` runs: moto with DynamoDB's transactions and streams (TTL is swept by the tests).
    moto_streams.install(ttl_sweep_seconds=None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{MOTO_PORT}"
    server.stop()


@pytest.fixture
def tables(moto_url):
    """Empty tables (and empty search-index and media buckets) for every test."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
    for model in TABLE_MODELS.values():
        model.create_table(wait=True)
    boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket=config.search_bucket())
    create_bucket(Environment(), config.media_bucket(), embedded=True)


@pytest.fixture(scope="session")
def redis_server():
    with running_redis() as (url, process):
        yield url, process


@pytest.fixture
def redis_url(redis_server):
    url, _ = redis_server
    redis_lib.Redis.from_url(url).flushall()
    return url


@pytest.fixture(scope="session")
def management_api():
    api = RecordingManagementApi()
    yield api
    api.close()


@pytest.fixture
def backend(monkeypatch, tables, redis_url, management_api):
    """The environment a deployed function sees: tables, Redis, the management API."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("WS_MANAGEMENT_URL", management_api.url)
    management_api.reset()
    reset_wiring()
    yield management_api
    reset_wiring()


@pytest.fixture
def streams(backend):
    """The stream routes' handlers, fed from the tables' streams: call .drain() to run the consumers."""
    from tests.support.stream_pump import StreamPump

    return StreamPump()


@pytest.fixture
def no_rate_limit(backend, monkeypatch):
    monkeypatch.setenv("SEND_RATE_LIMIT_PER_MINUTE", "0")
    reset_wiring()
