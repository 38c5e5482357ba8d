"""The emulated WebSocket management API (``@connections``), with AWS's answers.

POST sends the request body to the client, GET describes the connection, DELETE closes it. An unknown or
closed connection is 410 GoneException, a payload over 128 KB 413 PayloadTooLargeException; the error
type travels in ``x-amzn-ErrorType`` so boto3's ``apigatewaymanagementapi`` client raises the same
exceptions it raises against AWS. Requests are not SigV4-checked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from aiohttp import web

from infra.local.connections import Connection, ConnectionRegistry
from infra.local.lambda_events import new_id
from shared.domain import limits

log = logging.getLogger("local.management")

DELETE_CLOSE_CODE = 1000


def _error(status: int, error_type: str, message: str | None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}, separators=(",", ":")).encode(),
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": error_type,
            "x-amzn-RequestId": new_id(),
        },
    )


def _gone() -> web.Response:
    return _error(410, "GoneException", None)


def _iso8601(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ManagementApi:
    def __init__(self, registry: ConnectionRegistry) -> None:
        self._registry = registry
        self._closing: set[asyncio.Task] = set()

    def _connection(self, request: web.Request) -> Connection | None:
        return self._registry.get(request.match_info["connection_id"])

    async def post(self, request: web.Request) -> web.Response:
        connection = self._connection(request)
        if connection is None:
            return _gone()
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            data = None
        if data is None or len(data) > limits.WS_MAX_FRAME_BYTES:
            return _error(413, "PayloadTooLargeException", "Message too long")
        try:
            text: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data  # not UTF-8: sent as a binary frame
        try:
            await connection.send(text)
        except (ConnectionError, RuntimeError):
            return _gone()
        return web.Response(status=200, headers={"x-amzn-RequestId": new_id()})

    async def get(self, request: web.Request) -> web.Response:
        connection = self._connection(request)
        if connection is None:
            return _gone()
        client = connection.client
        body = {
            "connectedAt": _iso8601(client.connected_at_ms / 1000),
            "identity": {"sourceIp": client.source_ip, "userAgent": client.user_agent},
            "lastActiveAt": _iso8601(connection.last_active_at),
        }
        return web.Response(
            status=200,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "x-amzn-RequestId": new_id()},
        )

    async def delete(self, request: web.Request) -> web.Response:
        connection = self._connection(request)
        if connection is None:
            return _gone()
        # Gone at once for the API (a POST right after is 410); the close handshake runs in the background.
        connection.mark_closing(DELETE_CLOSE_CODE)
        task = asyncio.create_task(connection.close(DELETE_CLOSE_CODE, ""))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return web.Response(status=204, headers={"x-amzn-RequestId": new_id()})
