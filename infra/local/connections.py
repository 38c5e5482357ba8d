"""Live WebSocket connections, shared by the WebSocket API and the management API (one event loop)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web

from infra.local.lambda_events import WebSocketClient


@dataclass
class Connection:
    client: WebSocketClient
    ws: web.WebSocketResponse
    authorizer: dict | None  # requestContext.authorizer, carried on every event of the connection
    last_active_at: float = field(default_factory=time.time)  # epoch seconds; a client data frame
    # Set when the server closes the connection (idle, maximum age, DELETE, shutdown).
    close_code: int | None = None
    close_reason: str = ""
    tasks: set[asyncio.Task] = field(default_factory=set)
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def connection_id(self) -> str:
        return self.client.connection_id

    @property
    def open(self) -> bool:
        return self.close_code is None and not self.ws.closed

    async def send(self, data: str | bytes) -> None:
        async with self._send_lock:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(data)

    def mark_closing(self, code: int, reason: str = "") -> None:
        """From now on the connection is gone for the management API; the first code asked for wins."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    async def close(self, code: int, reason: str = "") -> None:
        """Closes from the server side; the connection's own task then runs `$disconnect`."""
        self.mark_closing(code, reason)
        if not self.ws.closed:
            await self.ws.close(code=self.close_code, message=self.close_reason.encode())

    def track(self, task: asyncio.Task) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}

    def add(self, connection: Connection) -> None:
        self._connections[connection.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        """The connection if it is open; None for unknown, closing or closed ones (AWS answers 410)."""
        connection = self._connections.get(connection_id)
        return connection if connection is not None and connection.open else None

    def all(self) -> list[Connection]:
        return list(self._connections.values())
