"""What the benchmarks share: their environment, statistics, result records, and an in-process backend
(a moto server with Parley's tables, a real redis-server, a recording management API) for the
benchmarks that call functions directly rather than through `parley local`.

The environment is fixed here, before any shared.* import: PynamoDB models read their region when
they are defined.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import statistics
import time
import urllib.request
from dataclasses import dataclass, field

BENCH_JWT_SECRET = "parley-benchmark-secret-long-enough-for-hs256"

# Settings the benchmarks choose for every process they start; nothing from the caller's shell leaks in.
_FIXED_ENV = dict(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_LOG_LEVEL="WARNING",
    # EMF metric lines would interleave with the report on stdout (cold_start turns them back on in the
    # processes it measures: writing them is part of an invocation's cost).
    POWERTOOLS_METRICS_DISABLED="true",
)
# Names that would point a process at someone else's backend.
_BACKEND_ENV = (
    "AWS_ENDPOINT_URL",
    "REDIS_URL",
    "WS_MANAGEMENT_URL",
    "JWT_SECRET",
    "JWT_SECRET_ARN",
    "JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "SEND_RATE_LIMIT_PER_MINUTE",
    "PARLEY_HTTP_URL",
    "PARLEY_WS_URL",
    "PARLEY_JWT_SECRET",
)

os.environ.update(_FIXED_ENV)
for _name in _BACKEND_ENV:
    os.environ.pop(_name, None)


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any backend settings, plus `overrides`."""
    env = {name: value for name, value in os.environ.items() if name not in _BACKEND_ENV}
    env.update(_FIXED_ENV)
    env.update(overrides)
    return env


# ------------------------------------------------------------------------------------------ statistics


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0–100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values_ms: list[float]) -> dict:
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "p50": percentile(values_ms, 50),
        "p95": percentile(values_ms, 95),
        "p99": percentile(values_ms, 99),
        "max": max(values_ms),
        "mean": statistics.fmean(values_ms),
    }


def ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


# -------------------------------------------------------------------------------------------- results


@dataclass
class Row:
    """One headline number: the summary table has one line per Row."""

    metric: str
    value: str
    target: str = ""
    verdict: str = ""  # "ok", "MISSED", "FAIL" (a correctness failure: lost messages, errors), or ""
    note: str = ""


@dataclass
class Result:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # Markdown blocks (tables, notes) shown under the summary
    data: dict = field(default_factory=dict)  # the raw numbers, for latest.json
    seconds: float = 0.0
    failed: bool = False  # a correctness failure (a lost message, an error); the runner exits non-zero

    def add(self, metric: str, value: str, target: str = "", verdict: str = "", note: str = "") -> None:
        self.rows.append(Row(metric, value, target, verdict, note))
        if verdict == "FAIL":
            self.failed = True


def under(value_ms: float, target_ms: float) -> str:
    return "ok" if value_ms < target_ms else "MISSED"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# -------------------------------------------------------------------------------- in-process backend


@dataclass
class Backend:
    moto_url: str
    redis_url: str
    management_api: object  # tests.support.management_api.RecordingManagementApi

    def env(self) -> dict[str, str]:
        """What a deployed function would see, pointed at this backend."""
        return {
            "AWS_ENDPOINT_URL": self.moto_url,
            "REDIS_URL": self.redis_url,
            "WS_MANAGEMENT_URL": self.management_api.url,
            "JWT_SECRET": BENCH_JWT_SECRET,
        }

    def reset_tables(self) -> None:
        from shared.storage.tables import TABLE_MODELS

        reset_clients()
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST")).read()
        for model in TABLE_MODELS.values():
            model.create_table(wait=True)
        from infra.local.services import Environment, create_bucket
        from shared.config import media_bucket, search_bucket

        for bucket in (search_bucket(), media_bucket()):
            create_bucket(Environment(), bucket, embedded=True)


def reset_clients() -> None:
    """Forgets every cached client and configuration, so the next call reads the environment again."""
    import shared.storage.aws
    from shared import wiring

    shared.storage.aws._session = None  # and the shared session its clients (counting hooks new ones)
    wiring.reset()


@contextlib.contextmanager
def in_process_backend():
    """moto (DynamoDB) + redis-server + a recording management API, all on 127.0.0.1.

    Points this process's environment at them while it lasts (the in-process benchmarks call handlers).
    """
    from moto.server import ThreadedMotoServer

    from tests.support.management_api import RecordingManagementApi
    from tests.support.ports import free_port
    from tests.support.redis_server import running_redis

    from infra.local import moto_streams

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    moto_streams.install(ttl_sweep_seconds=None)  # what `parley local` runs: DynamoDB's transactions and streams
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    management_api = RecordingManagementApi()
    saved = {name: os.environ.get(name) for name in _BACKEND_ENV}
    try:
        with running_redis() as (redis_url, _process):
            backend = Backend(f"http://127.0.0.1:{port}", redis_url, management_api)
            os.environ.update(backend.env())
            backend.reset_tables()
            yield backend
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_clients()
        management_api.close()
        moto.stop()


class Stopwatch:
    def __init__(self):
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
