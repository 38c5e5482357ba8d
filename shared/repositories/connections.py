"""Live WebSocket connections: who is connected where, for fan-out to every device."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared import limits
from shared.repositories.storage import storage_call
from shared.tables import ConnectionRecord

# Kept a little past API Gateway's 2-hour maximum; TTL then removes what a lost $disconnect left.
_RECORD_LIFETIME_SECONDS = limits.WS_MAX_CONNECTION_SECONDS + 600


class ConnectionRepository:
    def add(self, connection_id: str, user_id: str, connected_at_ms: int) -> None:
        expires = datetime.fromtimestamp(connected_at_ms / 1000, tz=timezone.utc) + timedelta(
            seconds=_RECORD_LIFETIME_SECONDS
        )
        with storage_call("add connection"):
            ConnectionRecord(
                connection_id, user_id=user_id, connected_at=connected_at_ms, expires_at=expires
            ).save()

    def remove(self, connection_id: str) -> None:
        with storage_call("remove connection"):
            ConnectionRecord(connection_id).delete()

    def for_user(self, user_id: str) -> list[str]:
        with storage_call("list connections"):
            return [row.connection_id for row in ConnectionRecord.by_user.query(user_id)]
