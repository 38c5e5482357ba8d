"""Live WebSocket connections, one item per user, found by a consistent read (a device that has just
connected gets the next push)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pynamodb.exceptions import PutError, UpdateError

from shared import limits
from shared.repositories.storage import is_conditional_failure, storage_call
from shared.tables import ConnectionRecord

# Kept a little past API Gateway's 2-hour maximum; past it an entry is ignored and removed (a lost $disconnect).
ENTRY_LIFETIME_SECONDS = limits.WS_MAX_CONNECTION_SECONDS + 600


@dataclass
class UserConnections:
    live: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # a $disconnect never came: remove them


class ConnectionRepository:
    def add(self, user_id: str, connection_id: str, connected_at_ms: int, now_ms: int) -> None:
        expires_at = now_ms // 1000 + ENTRY_LIFETIME_SECONDS
        entry = {"connected_at": connected_at_ms, "expires_at": expires_at}
        with storage_call("add connection"):
            # SET connections.#id needs the map to exist: the user's first connection creates the item.
            for _ in range(3):
                try:
                    ConnectionRecord(user_id).update(
                        actions=[
                            ConnectionRecord.connections[connection_id].set(entry),
                            ConnectionRecord.expires_at.set(_at(expires_at)),
                        ],
                        condition=ConnectionRecord.connections.exists(),
                    )
                    return
                except UpdateError as error:
                    if not is_conditional_failure(error):
                        raise
                try:
                    ConnectionRecord(user_id, connections={connection_id: entry}, expires_at=_at(expires_at)).save(
                        condition=ConnectionRecord.user_id.does_not_exist()
                    )
                    return
                except PutError as error:
                    if not is_conditional_failure(error):
                        raise  # else another device's first connect created it a moment ago: update it
            raise RuntimeError("could not record the connection")

    def remove(self, user_id: str, connection_id: str, at_ms: int) -> None:
        """$disconnect: forgets the connection and records when the user was last seen."""
        with storage_call("remove connection"):
            try:
                ConnectionRecord(user_id).update(
                    actions=[ConnectionRecord.connections[connection_id].remove(), ConnectionRecord.last_seen.set(at_ms)],
                    condition=ConnectionRecord.connections.exists(),
                )
            except UpdateError as error:
                if not is_conditional_failure(error):
                    raise

    def forget(self, user_id: str, connection_ids: Iterable[str]) -> None:
        """Removes entries that are gone (410 on a push) or expired."""
        actions = [ConnectionRecord.connections[connection_id].remove() for connection_id in connection_ids]
        if not actions:
            return
        with storage_call("forget connections"):
            try:
                ConnectionRecord(user_id).update(actions=actions, condition=ConnectionRecord.connections.exists())
            except UpdateError as error:
                if not is_conditional_failure(error):
                    raise

    def of_users(self, user_ids: Iterable[str], now_s: int) -> dict[str, UserConnections]:
        """Each user's connections, by one consistent read (BatchGetItem, or GetItem for one user)."""
        user_ids = list(dict.fromkeys(user_ids))
        found = {user_id: UserConnections() for user_id in user_ids}
        with storage_call("read connections"):
            if len(user_ids) == 1:
                try:
                    records = [ConnectionRecord.get(user_ids[0], consistent_read=True)]
                except ConnectionRecord.DoesNotExist:
                    records = []
            else:
                records = list(ConnectionRecord.batch_get(user_ids, consistent_read=True))
        for record in records:
            for connection_id, entry in (record.connections.as_dict() if record.connections else {}).items():
                expired = int(entry.get("expires_at", 0)) <= now_s
                (found[record.user_id].expired if expired else found[record.user_id].live).append(connection_id)
        return found


def _at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
