"""Recording WebSocket connections as they open and close."""

from __future__ import annotations

from shared.repositories.connections import ConnectionRepository


def connect(connections: ConnectionRepository, connection_id: str, user_id: str, connected_at_ms: int) -> None:
    connections.add(connection_id, user_id, connected_at_ms)


def disconnect(connections: ConnectionRepository, connection_id: str) -> None:
    connections.remove(connection_id)
