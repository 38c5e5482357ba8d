"""Live WebSocket connections, one item per user, found by a consistent read (a device that has just
connected gets the next push)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import size

from shared.domain import limits
from shared.storage.repositories.storage import is_conditional_failure, storage_call
from shared.storage.tables import ConnectionRecord

# Kept a little past API Gateway's 2-hour maximum; past it an entry is ignored and removed (a lost $disconnect).
ENTRY_LIFETIME_SECONDS = limits.WS_MAX_CONNECTION_SECONDS + 600


@dataclass
class UserConnections:
    live: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # a $disconnect never came: remove them
    last_seen: int | None = None  # epoch ms of the user's last disconnect, if any


class ConnectionRepository:
    def add(self, user_id: str, connection_id: str, connected_at_ms: int, now_ms: int) -> int:
        """Records the connection; returns how many live connections the user has now (1: just came online)."""
        expires_at = now_ms // 1000 + ENTRY_LIFETIME_SECONDS
        entry = {"connected_at": connected_at_ms, "expires_at": expires_at}
        with storage_call("add connection"):
            # SET connections.#id needs the map to exist: the user's first connection creates the item.
            for _ in range(3):
                record = ConnectionRecord(user_id)
                try:
                    record.update(
                        actions=[
                            ConnectionRecord.connections[connection_id].set(entry),
                            ConnectionRecord.expires_at.set(_at(expires_at)),
                        ],
                        condition=ConnectionRecord.connections.exists(),
                    )
                    return len(_split(record, now_ms // 1000).live)
                except UpdateError as error:
                    if not is_conditional_failure(error):
                        raise
                try:
                    ConnectionRecord(user_id, connections={connection_id: entry}, expires_at=_at(expires_at)).save(
                        condition=ConnectionRecord.user_id.does_not_exist()
                    )
                    return 1
                except PutError as error:
                    if not is_conditional_failure(error):
                        raise  # else another device's first connect created it a moment ago: update it
            raise RuntimeError("could not record the connection")

    def remove(self, user_id: str, connection_id: str, at_ms: int) -> int:
        """$disconnect: forgets the connection and records when the user was last seen; returns how many
        live connections the user still has (0: they went offline, and their item stops expiring)."""
        record = ConnectionRecord(user_id)
        with storage_call("remove connection"):
            try:
                record.update(
                    actions=[ConnectionRecord.connections[connection_id].remove(), ConnectionRecord.last_seen.set(at_ms)],
                    condition=ConnectionRecord.connections.exists(),
                )
            except UpdateError as error:
                if not is_conditional_failure(error):
                    raise
                return 0
        found = _split(record, at_ms // 1000)
        if not found.live:
            self._keep_last_seen(user_id, found.expired)
        return len(found.live)

    def record_last_seen(self, user_id: str, last_seen_ms: int) -> None:
        """The user's heartbeat lapsed (devices gone without a $disconnect): when they were last seen."""
        with storage_call("record last seen"):
            try:
                ConnectionRecord(user_id).update(
                    actions=[ConnectionRecord.last_seen.set(last_seen_ms)], condition=ConnectionRecord.user_id.exists()
                )
            except UpdateError as error:
                if not is_conditional_failure(error):
                    raise

    def _keep_last_seen(self, user_id: str, expired: list[str]) -> None:
        """With no live connection left, the item must not expire: it holds last_seen. Conditional on the
        map holding only the expired entries (a device connecting meanwhile keeps the expiry)."""
        with storage_call("keep last seen"):
            try:
                ConnectionRecord(user_id).update(
                    actions=[ConnectionRecord.expires_at.remove()]
                    + [ConnectionRecord.connections[c].remove() for c in expired],
                    condition=ConnectionRecord.connections.exists()
                    & (size(ConnectionRecord.connections) == len(expired)),
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
            found[record.user_id] = _split(record, now_s)
        return found


def _split(record: ConnectionRecord, now_s: int) -> UserConnections:
    found = UserConnections(last_seen=int(record.last_seen) if record.last_seen is not None else None)
    for connection_id, entry in (record.connections.as_dict() if record.connections else {}).items():
        expired = int(entry.get("expires_at", 0)) <= now_s
        (found.expired if expired else found.live).append(connection_id)
    return found


def _at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
