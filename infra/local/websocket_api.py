"""The emulated API Gateway WebSocket API: the `$connect` authorizer, route selection by
``$request.body.action``, `$disconnect`, and API Gateway's frame size, idle and age limits."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from infra.local.connections import Connection, ConnectionRegistry
from infra.local.front_door import gateway_message
from infra.local.lambda_events import (
    WebSocketClient,
    new_id,
    now_ms,
    query_pairs,
    ws_authorizer_event,
    ws_connect_event,
    ws_disconnect_event,
    ws_message_event,
    ws_method_arn,
)
from infra.local.lambda_invoker import FunctionError, FunctionTimeout, LambdaInvoker
from shared.domain import limits
from shared.routes import Route

log = logging.getLogger("local.websocket")

IDENTITY_SOURCE_QUERY = "token"  # route.request.querystring.token
GOING_AWAY = (1001, "Going away")
# API Gateway takes text frames only: a binary one ends the connection (the reason text is ours).
UNSUPPORTED_DATA = (1003, "Binary frames are not supported")
NO_STATUS = 1005  # a close frame without a status code
NO_STATUS_REASON = "Client-side close frame status not set"  # AWS's disconnectReason for it
_RESERVED_ROUTES = {"$connect", "$disconnect"}


@dataclass(frozen=True)
class WebSocketLimits:
    max_message_bytes: int = limits.WS_MAX_FRAME_BYTES
    idle_timeout_seconds: float = limits.WS_IDLE_TIMEOUT_SECONDS
    max_connection_seconds: float = limits.WS_MAX_CONNECTION_SECONDS


class HandshakeRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


class MalformedPolicy(Exception):
    pass


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters, ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def authorizer_policy(result: object, method_arn: str) -> tuple[bool, str, dict]:
    """A REQUEST authorizer's IAM policy: (allowed, principalId, context). An explicit Deny wins."""
    if not isinstance(result, dict):
        raise MalformedPolicy(f"authorizer returned {result!r}, not a policy")
    principal_id = result.get("principalId")
    document = result.get("policyDocument")
    if not isinstance(principal_id, str) or not isinstance(document, dict) or "Statement" not in document:
        raise MalformedPolicy("authorizer response needs principalId and policyDocument.Statement")
    allowed = False
    for statement in _as_list(document["Statement"]):
        if not isinstance(statement, dict):
            raise MalformedPolicy("policy statements must be objects")
        actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
        resources = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
        applies = any(_glob(a, "execute-api:Invoke", ignore_case=True) for a in actions) and any(
            _glob(r, method_arn) for r in resources
        )
        if not applies:
            continue
        if statement.get("Effect") == "Deny":
            return False, principal_id, {}
        if statement.get("Effect") == "Allow":
            allowed = True
    context = result.get("context") or {}
    if not isinstance(context, dict) or any(
        not isinstance(v, str | int | float | bool) or v is None for v in context.values()
    ):
        raise MalformedPolicy("authorizer context values must be strings, numbers or booleans")
    return allowed, principal_id, context


class WebSocketApi:
    def __init__(
        self,
        routes: Iterable[Route],
        authorizer: Route | None,
        invoker: LambdaInvoker,
        registry: ConnectionRegistry,
        region: str,
        ws_limits: WebSocketLimits,
    ) -> None:
        self._routes = {route.key: route for route in routes}
        self._authorizer = authorizer
        self._invoker = invoker
        self._registry = registry
        self._region = region
        self._limits = ws_limits
        self._disconnects: set[asyncio.Task] = set()

    # ------------------------------------------------------------------------------------ handshake

    async def handle(self, request: web.Request) -> web.StreamResponse:
        probe = web.WebSocketResponse()
        if not probe.can_prepare(request).ok:
            return gateway_message(426, "Upgrade Required")
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        client = WebSocketClient(
            connection_id=new_id(),
            connected_at_ms=now_ms(),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            domain_name=request.headers.get("Host", "localhost"),
            server_port=sockname[1] if sockname else 0,
            headers=list(request.headers.items()),
            query=query_pairs(request.raw_path.partition("?")[2]),
        )
        try:
            authorizer = await self._authorize(client)
            protocols = await self._connect(client, authorizer)
        except HandshakeRefused as refused:
            log.info("handshake refused: %s", refused)
            return gateway_message(refused.status, refused.message)

        ws = web.WebSocketResponse(
            # aiohttp refuses a message of max_msg_size bytes itself; API Gateway accepts exactly 128 KB.
            max_msg_size=self._limits.max_message_bytes + 1,
            compress=False,
            autoping=True,
            protocols=protocols,
        )
        connection = Connection(client=client, ws=ws, authorizer=authorizer)
        code, reason = 1006, ""
        try:
            # `$connect` has run: from here on, whatever happens (even a client gone before the 101
            # answer), `$disconnect` runs too.
            try:
                await ws.prepare(request)
            except ConnectionError as exc:
                log.info("%s went away during the handshake: %s", client.connection_id, exc)
                return ws
            self._registry.add(connection)
            log.info("connected %s", client.connection_id)
            code, reason = await self._receive(connection)
        finally:
            self._registry.remove(client.connection_id)
            if connection.close_code is not None:
                code, reason = connection.close_code, connection.close_reason
            log.info("disconnected %s (%s %s)", client.connection_id, code, reason)
            task = asyncio.create_task(self._disconnect(connection, code, reason))
            self._disconnects.add(task)
            task.add_done_callback(self._disconnects.discard)
        return ws

    async def _authorize(self, client: WebSocketClient) -> dict | None:
        """requestContext.authorizer for the connection's events, or raises HandshakeRefused."""
        if self._authorizer is None:
            return None
        if not dict(client.query).get(IDENTITY_SOURCE_QUERY):
            raise HandshakeRefused(401, "Unauthorized")
        event = ws_authorizer_event(client, region=self._region, request_id=new_id(), epoch_ms=now_ms())
        started = time.perf_counter()
        try:
            result = await self._invoker.invoke(self._authorizer, event)
        except FunctionError as exc:
            if exc.error_message == "Unauthorized":
                raise HandshakeRefused(401, "Unauthorized") from None
            raise HandshakeRefused(500, "Internal server error") from None
        except FunctionTimeout:
            raise HandshakeRefused(500, "Internal server error") from None
        try:
            allowed, principal_id, context = authorizer_policy(result, ws_method_arn(self._region))
        except MalformedPolicy as exc:
            log.error("authorizer: %s", exc)
            raise HandshakeRefused(500, "Internal server error") from None
        if not allowed:
            raise HandshakeRefused(403, "Forbidden")
        latency_ms = int((time.perf_counter() - started) * 1000)
        return {**context, "principalId": principal_id, "integrationLatency": latency_ms}

    async def _connect(self, client: WebSocketClient, authorizer: dict | None) -> tuple[str, ...]:
        """Runs `$connect`; returns the subprotocol it chose, if any, or raises HandshakeRefused."""
        route = self._routes.get("$connect")
        if route is None:
            return ()
        event = ws_connect_event(client, authorizer=authorizer, request_id=new_id(), epoch_ms=now_ms())
        try:
            result = await self._invoker.invoke(route, event)
        except (FunctionError, FunctionTimeout):
            raise HandshakeRefused(500, "Internal server error") from None
        if not isinstance(result, dict):
            return ()
        status = result.get("statusCode", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise HandshakeRefused(500, "Internal server error")
        if not 200 <= status < 300:
            raise HandshakeRefused(status, "Forbidden" if status == 403 else "Connection refused by $connect")
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        protocol = headers.get("sec-websocket-protocol")
        return (protocol,) if isinstance(protocol, str) and protocol else ()

    # ------------------------------------------------------------------------------------- messages

    async def _receive(self, connection: Connection) -> tuple[int, str]:
        """Reads client frames until the connection ends; returns its close code and reason."""
        ws = connection.ws
        max_age_deadline = time.monotonic() + self._limits.max_connection_seconds
        last_active = time.monotonic()
        while True:
            remaining = min(last_active + self._limits.idle_timeout_seconds, max_age_deadline) - time.monotonic()
            if remaining <= 0:
                await connection.close(*GOING_AWAY)
                return GOING_AWAY
            try:
                message = await ws.receive(timeout=remaining)
            except TimeoutError:
                continue
            if message.type is WSMsgType.TEXT:
                last_active = time.monotonic()
                connection.last_active_at = time.time()
                self._dispatch(connection, message.data)
            elif message.type is WSMsgType.BINARY:
                await connection.close(*UNSUPPORTED_DATA)
                return UNSUPPORTED_DATA
            elif message.type is WSMsgType.CLOSE:
                code = int(message.data or NO_STATUS)
                return code, message.extra or (NO_STATUS_REASON if code == NO_STATUS else "")
            elif message.type is WSMsgType.ERROR:  # aiohttp closed it: 1009 for a message over the limit
                code = getattr(message.data, "code", None) or ws.close_code or 1011
                return code, "Message too big" if code == 1009 else str(message.data)
            else:  # CLOSING (closed by the server) or CLOSED (the client went away)
                return ws.close_code or 1006, ""

    def _select_route(self, body: str) -> Route | None:
        try:
            action = json.loads(body).get("action")
        except (ValueError, AttributeError, RecursionError):  # not a JSON object: $default
            action = None
        if isinstance(action, str) and action not in _RESERVED_ROUTES and action in self._routes:
            return self._routes[action]
        return self._routes.get("$default")

    def _dispatch(self, connection: Connection, body: str) -> None:
        route = self._select_route(body)
        connection.track(asyncio.create_task(self._handle_message(connection, route, body)))

    async def _handle_message(self, connection: Connection, route: Route | None, body: str) -> None:
        request_id = new_id()
        if route is None:
            await self._send_error(connection, "Forbidden", request_id)
            return
        event = ws_message_event(
            connection.client,
            route_key=route.key,
            body=body,
            is_base64_encoded=False,
            authorizer=connection.authorizer,
            request_id=request_id,
            epoch_ms=now_ms(),
        )
        try:
            result = await self._invoker.invoke(route, event)
        except (FunctionError, FunctionTimeout):
            await self._send_error(connection, "Internal server error", request_id)
            return
        if route.returns_response and isinstance(result, dict) and result.get("body") is not None:
            reply = result["body"]
            reply = reply if isinstance(reply, str) else json.dumps(reply)
            try:
                reply.encode("utf-8")
            except UnicodeEncodeError:  # a text frame must be UTF-8: the route failed, not the connection
                log.error("%s answered text that is not valid UTF-8", route.name)
                await self._send_error(connection, "Internal server error", request_id)
                return
            await self._send(connection, reply)

    async def _send_error(self, connection: Connection, message: str, request_id: str) -> None:
        frame = {"message": message, "connectionId": connection.connection_id, "requestId": request_id}
        await self._send(connection, json.dumps(frame))

    async def _send(self, connection: Connection, data: str) -> None:
        if not connection.open:
            return
        try:
            await connection.send(data)
        except (ConnectionError, RuntimeError) as exc:
            log.info("could not send to %s: %s", connection.connection_id, exc)

    # ----------------------------------------------------------------------------------- disconnect

    async def _disconnect(self, connection: Connection, code: int, reason: str) -> None:
        route = self._routes.get("$disconnect")
        if route is None:
            return
        event = ws_disconnect_event(
            connection.client,
            status_code=code,
            reason=reason,
            authorizer=connection.authorizer,
            request_id=new_id(),
            epoch_ms=now_ms(),
        )
        try:
            await self._invoker.invoke(route, event)
        except (FunctionError, FunctionTimeout) as exc:
            log.error("$disconnect of %s failed: %s", connection.connection_id, exc)

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Closes every connection with 1001 and waits (a while) for their `$disconnect`s."""
        await asyncio.gather(
            *(connection.close(*GOING_AWAY) for connection in self._registry.all()), return_exceptions=True
        )
        deadline = time.monotonic() + timeout
        while self._registry.all() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # each connection's task ends and schedules its $disconnect
        if self._disconnects:
            await asyncio.wait(set(self._disconnects), timeout=max(0.0, deadline - time.monotonic()))
