"""`parley local` in one object: the HTTP, WebSocket and management APIs on one aiohttp server, the
Lambda handlers in a thread pool or in function worker processes (infra/local/function_workers.py), the
triggers (stream consumers, schedules: infra/local/triggers.py), and (optionally) the backing services with
the environment they need.

In-process use (tests): ``async with LocalRuntime(routes=..., handlers=..., start_services=False) as rt``.
With ``start_services=True`` the runtime changes os.environ (restored on stop) and must be started before
anything imports shared.storage.tables; start it from a thread that outlives it (the moto and redis-server children
are tied to the thread that started them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from infra.local.connections import ConnectionRegistry
from infra.local.front_door import GatewayAppRunner, drop_server_header
from infra.local.function_workers import FunctionWorkers
from infra.local.http_api import MAX_PAYLOAD_BYTES, CorsPolicy, HttpApi
from infra.local.iam import DynamoDbGrants
from infra.local.lambda_invoker import Handler, LambdaInvoker
from infra.local.management_api import ManagementApi
from infra.local import signing as loopback_signing
from infra.local.s3_front import S3Front
from infra.local.services import (
    DEFAULT_REGION,
    REDIS_WATCH_INTERVAL_SECONDS,
    Environment,
    LocalServices,
    default_jwt_secret,
    start_services,
)
from infra.local.triggers import DeadLetters, Triggers, TriggerSettings
from infra.local.web_client import WebClient
from infra.local.websocket_api import WebSocketApi, WebSocketLimits
from shared.domain import limits
from shared.storage.aws import botocore_session
from shared.routes import HTTP_PREFIX, ROUTES, Route

log = logging.getLogger("local")

FUNCTION_PROCESSES_ENV = "PARLEY_LOCAL_FUNCTION_PROCESSES"
MAX_DEFAULT_FUNCTION_PROCESSES = 4  # each imports the functions it runs (~55 MB with the send path's)
IDLE_TIMEOUT_ENV = "PARLEY_LOCAL_WS_IDLE_TIMEOUT_SECONDS"
MAX_CONNECTION_ENV = "PARLEY_LOCAL_WS_MAX_CONNECTION_SECONDS"
WS_PATH = "/ws"


def websocket_limits_from_environment(environ: Mapping[str, str] | None = None) -> WebSocketLimits:
    """API Gateway's limits, with the idle timeout and maximum age overridable (for tests)."""
    environ = os.environ if environ is None else environ

    def seconds(name: str, default: float) -> float:
        raw = environ.get(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
        if value <= 0:
            raise ValueError(f"{name} must be positive")
        return value

    return WebSocketLimits(
        max_message_bytes=limits.WS_MAX_FRAME_BYTES,
        idle_timeout_seconds=seconds(IDLE_TIMEOUT_ENV, limits.WS_IDLE_TIMEOUT_SECONDS),
        max_connection_seconds=seconds(MAX_CONNECTION_ENV, limits.WS_MAX_CONNECTION_SECONDS),
    )


def function_processes_from_environment(environ: Mapping[str, str] | None = None) -> int:
    """How many function worker processes `parley local` starts: one per core (at most
    MAX_DEFAULT_FUNCTION_PROCESSES) unless PARLEY_LOCAL_FUNCTION_PROCESSES says (0: run every handler in the
    runtime's own process)."""
    raw = (os.environ if environ is None else environ).get(FUNCTION_PROCESSES_ENV)
    if not raw:
        return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_FUNCTION_PROCESSES))
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"{FUNCTION_PROCESSES_ENV} must be a whole number, got {raw!r}") from None
    if count < 0:
        raise ValueError(f"{FUNCTION_PROCESSES_ENV} must not be negative")
    return count


def _authorizer(routes: Sequence[Route], api: str) -> Route | None:
    return next((r for r in routes if r.api == "authorizer" and r.key == api), None)


def _configured_table_names() -> dict[str, str]:
    from shared.config import table_name
    from shared.resources import TABLE_ENV

    return {logical: table_name(logical) for logical in TABLE_ENV}


@dataclass(frozen=True)
class _Listener:
    sock: socket.socket
    port: int


def _bind(host: str, port: int) -> _Listener:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return _Listener(sock=sock, port=sock.getsockname()[1])


class LocalRuntime:
    def __init__(
        self,
        *,
        routes: Sequence[Route] = ROUTES,
        handlers: Mapping[str, Handler] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        start_services: bool = True,
        ws_limits: WebSocketLimits | None = None,
        cors: CorsPolicy | None = CorsPolicy(),  # noqa: B008 - immutable
        max_workers: int = 128,
        table_names: Mapping[str, str] | None = None,  # logical -> physical; default: shared.config's
        triggers: TriggerSettings | None = None,
        web_dist: Path | None = None,  # the built web client, served at / (with the local sign-in)
        function_processes: int = 0,  # worker processes for the handlers not given in `handlers`; 0: threads here
    ) -> None:
        self._routes = tuple(routes)
        self._handlers = handlers
        self._host = host
        self._requested_port = port
        self._start_services = start_services
        self._ws_limits = ws_limits
        self._cors = cors
        self._max_workers = max_workers
        self._table_names = table_names
        self._trigger_settings = triggers
        self._web_dist = web_dist
        self._function_processes = function_processes
        self._workers: FunctionWorkers | None = None
        self._triggers: Triggers | None = None
        self._env = Environment()
        self._listener: _Listener | None = None
        self._runner: web.AppRunner | None = None
        self._invoker: LambdaInvoker | None = None
        self._websocket_api: WebSocketApi | None = None
        self._redis_watch: asyncio.Task | None = None
        self._s3_listener: _Listener | None = None
        self._s3_runner: web.AppRunner | None = None
        self.s3_front: S3Front | None = None
        self.services: LocalServices | None = None

    # ------------------------------------------------------------------------------------------ URLs

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the runtime is not started")
        return self._listener.port

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def ws_url(self) -> str:
        return f"ws{self.base_url.removeprefix('http')}{WS_PATH}"

    @property
    def function_worker_pids(self) -> list[int]:
        """The function worker processes running now (none when the handlers run in this process)."""
        return [] if self._workers is None else self._workers.pids

    @property
    def triggers(self) -> list[str]:
        """The trigger routes running, e.g. "on_message_stored <- messages stream"."""
        return [] if self._triggers is None else list(self._triggers.running)

    @property
    def dead_letters(self) -> DeadLetters:
        """What the triggers gave up on after their retries (the deployed stack's dead-letter queue)."""
        if self._triggers is None:
            raise RuntimeError("the runtime is not started")
        return self._triggers.dead_letters

    @property
    def s3_url(self) -> str | None:
        """The local S3 front (what AWS_ENDPOINT_URL_S3 holds): presigned links point here."""
        if self._s3_listener is None:
            return None
        return f"{self.base_url.rsplit(':', 1)[0]}:{self._s3_listener.port}"

    @property
    def management_url(self) -> str:
        """What WS_MANAGEMENT_URL holds: the endpoint a boto3 apigatewaymanagementapi client is given."""
        return self.base_url

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        # The port first: a taken one fails at once, and the handlers' WS_MANAGEMENT_URL needs it.
        self._listener = _bind(self._host, self._requested_port)
        sock = self._listener.sock
        # Before any client is made, the tables' too (a client copies the session's handlers when made, and
        # the functions get the same shared one). As IAM would: a function's DynamoDB call outside its
        # route's grants is refused.
        DynamoDbGrants(self._routes).install(botocore_session())
        loopback_signing.install(botocore_session())  # the local endpoints check no signatures
        if self._start_services:
            # The S3 front's port before the services: the functions' S3 endpoint must be set first.
            self._s3_listener = _bind(self._host, 0)
            self._env.set("AWS_ENDPOINT_URL_S3", self.s3_url)
            self.services = start_services(self._env)
            default_jwt_secret(self._env)
            self._env.set("WS_MANAGEMENT_URL", self.management_url)
            if self.services.embedded_redis:
                self._redis_watch = asyncio.create_task(self._keep_redis_running(self.services))
        region = self._env.get("AWS_REGION") or self._env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION

        if self._function_processes:
            # After the environment is complete (WS_MANAGEMENT_URL, the services'): the workers inherit it.
            self._workers = FunctionWorkers(self._function_processes)
            await self._workers.start()
        self._invoker = LambdaInvoker(
            region=region, handlers=self._handlers, max_workers=self._max_workers, workers=self._workers
        )
        registry = ConnectionRegistry()
        http_api = HttpApi(
            [r for r in self._routes if r.api == "http"],
            _authorizer(self._routes, "http"),
            self._invoker,
            region,
            self._cors,
        )
        self._websocket_api = WebSocketApi(
            [r for r in self._routes if r.api == "websocket"],
            _authorizer(self._routes, "websocket"),
            self._invoker,
            registry,
            region,
            self._ws_limits or websocket_limits_from_environment(),
        )
        management_api = ManagementApi(registry)

        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES)
        app.on_response_prepare.append(drop_server_header)
        app.router.add_get(WS_PATH, self._websocket_api.handle)
        app.router.add_post("/@connections/{connection_id}", management_api.post)
        app.router.add_get("/@connections/{connection_id}", management_api.get)
        app.router.add_delete("/@connections/{connection_id}", management_api.delete)
        if self._web_dist is not None:
            WebClient(self._web_dist, http_prefix=HTTP_PREFIX, ws_path=WS_PATH).add_routes(app)
        # (?s): a path with an encoded newline (%0A) still reaches the HTTP API, as on API Gateway.
        app.router.add_route("*", "/{path:(?s:.*)}", http_api.handle)

        self._runner = GatewayAppRunner(
            app, handle_signals=False, shutdown_timeout=5, access_log_format='%a "%r" %s %b %Tfs'
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self._triggers = Triggers(
            self._routes,
            invoker=self._invoker,
            region=region,
            table_names=self._table_names if self._table_names is not None else _configured_table_names(),
            settings=self._trigger_settings,
        )
        await self._triggers.start()
        if self._s3_listener is not None:
            await self._start_s3_front(region)

    async def _start_s3_front(self, region: str) -> None:
        access_key, secret = self._env.get("AWS_ACCESS_KEY_ID"), self._env.get("AWS_SECRET_ACCESS_KEY")
        self.s3_front = S3Front(
            upstream_url=self.services.aws_endpoint_url,
            credentials={access_key: secret} if access_key and secret else {},
            routes=[r for r in self._routes if r.api == "s3"],
            invoker=self._invoker,
            region=region,
            dead_letters=self._triggers.dead_letters,
            settings=self._triggers.settings,
            cors_origins=self._cors.allow_origins if self._cors is not None else (),
        )
        self._s3_runner = web.AppRunner(
            self.s3_front.app(), handle_signals=False, shutdown_timeout=5, access_log_format='%a "%r" %s %b %Tfs'
        )
        await self._s3_runner.setup()
        await web.SockSite(self._s3_runner, self._s3_listener.sock).start()

    @staticmethod
    async def _keep_redis_running(services: LocalServices) -> None:
        # On the loop's thread, which started the services: a restarted redis-server is tied to it too.
        while not services.redis_gone:
            await asyncio.sleep(REDIS_WATCH_INTERVAL_SECONDS)
            services.keep_redis_running()

    async def stop(self) -> None:
        """Closes every WebSocket (1001, `$disconnect` runs), stops the server, then the services."""
        if self._redis_watch is not None:
            self._redis_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._redis_watch
            self._redis_watch = None
        try:
            if self._triggers is not None:
                await self._triggers.stop()
            if self._websocket_api is not None:
                await self._websocket_api.shutdown()
                self._websocket_api = None
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            elif self._listener is not None:
                self._listener.sock.close()
            if self._s3_runner is not None:
                await self._s3_runner.cleanup()
                self._s3_runner = None
            elif self._s3_listener is not None:
                self._s3_listener.sock.close()
            if self._invoker is not None:
                self._invoker.shutdown()
                self._invoker = None
            if self._workers is not None:
                await self._workers.stop()
                self._workers = None
        finally:
            if self.services is not None:
                self.services.stop()
                self.services = None
            self._env.restore()

    async def __aenter__(self) -> LocalRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()
