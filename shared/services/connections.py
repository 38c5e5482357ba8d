"""Recording WebSocket connections as they open and close."""

from __future__ import annotations

from shared.repositories.connections import ConnectionRepository


def connect(
    connections: ConnectionRepository, user_id: str, connection_id: str, connected_at_ms: int, now_ms: int
) -> None:
    connections.add(user_id, connection_id, connected_at_ms, now_ms)


def disconnect(connections: ConnectionRepository, user_id: str, connection_id: str, at_ms: int) -> None:
    connections.remove(user_id, connection_id, at_ms)
