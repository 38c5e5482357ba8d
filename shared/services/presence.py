"""Presence: a user is online while they have a live connection that keeps its heartbeat.

Sources: the connections table (durable: live connections and `last_seen`), and heartbeats in Redis
(shared/realtime/presence.py: `ping` every ~50 s keeps a user fresh for the presence TTL, 90 s by default). Changes are
pushed as `presence` events to the users who share a conversation with the user, and only they (and the
user) may read it. Without Redis, presence follows the connections table alone (a device that vanishes
without a $disconnect then counts as online until its entry expires).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain import limits, validation
from shared.domain.errors import BadRequestError, NotFoundError, StorageUnavailableError
from shared.realtime.events import presence_data, presence_envelope
from shared.log import logger
from shared.realtime.presence import PresenceHeartbeats
from shared.services.messaging import MessagingDeps, push_to_users
from shared.domain.timefmt import now_ms

ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True)
class PresenceDeps:
    messaging: MessagingDeps  # connections, conversations and the pusher
    heartbeats: PresenceHeartbeats


def connected(deps: PresenceDeps, user_id: str, connection_id: str, connected_at_ms: int) -> None:
    """$connect: records the connection; the user's first live one makes them online for their peers."""
    now = now_ms()
    live = deps.messaging.connections.add(user_id, connection_id, connected_at_ms, now)
    lapsed = deps.heartbeats.beat(user_id, now)
    if live == 1 or lapsed:
        _tell_peers(deps, user_id, ONLINE, None)


def disconnected(deps: PresenceDeps, user_id: str, connection_id: str) -> None:
    """$disconnect: forgets the connection; with none left the user is offline, seen now."""
    now = now_ms()
    if deps.messaging.connections.remove(user_id, connection_id, now) == 0:
        deps.heartbeats.end(user_id)
        _tell_peers(deps, user_id, OFFLINE, now)


def back_online(deps: PresenceDeps, user_id: str) -> None:
    """A `ping` after the user's heartbeat had lapsed (functions/ws_ping.py beats it): online again for their
    peers."""
    _tell_peers(deps, user_id, ONLINE, None)


def sweep_lapsed(deps: PresenceDeps) -> list[str]:
    """The schedule: users whose devices stopped their heartbeat (gone without a $disconnect) are offline,
    seen at their last heartbeat. Returns them."""
    lapsed = deps.heartbeats.pop_lapsed(now_ms())
    for user_id, last_beat_ms in lapsed:
        deps.messaging.connections.record_last_seen(user_id, last_beat_ms)
        _tell_peers(deps, user_id, OFFLINE, last_beat_ms)
    return [user_id for user_id, _ in lapsed]


def presence_of(deps: PresenceDeps, caller_id: str, user_id: object) -> dict:
    """GET /users/{id}/presence: the same 404 for a user who shares no conversation with the caller as for
    one who never existed."""
    user_id = validation.user_id(user_id)
    visible = _visible(deps, caller_id, [user_id])
    if not visible:
        raise NotFoundError("user not found")
    return visible[0]


def presence_of_many(deps: PresenceDeps, caller_id: str, raw_ids: object) -> list[dict]:
    """GET /users/presence/bulk?ids=a,b: the visible ones, in the order asked; others are left out."""
    if not isinstance(raw_ids, str) or not raw_ids:
        raise BadRequestError("ids is required: comma-separated user ids")
    user_ids = list(dict.fromkeys(validation.user_id(part, "ids") for part in raw_ids.split(",")))
    if len(user_ids) > limits.MAX_PRESENCE_BULK_IDS:
        raise BadRequestError(f"at most {limits.MAX_PRESENCE_BULK_IDS} ids")
    return _visible(deps, caller_id, user_ids)


def _visible(deps: PresenceDeps, caller_id: str, user_ids: list[str]) -> list[dict]:
    peers = deps.messaging.conversations.peers_among(caller_id, user_ids)
    shown = [u for u in user_ids if u == caller_id or u in peers]
    if not shown:
        return []
    now = now_ms()
    found = deps.messaging.connections.of_users(shown, now // 1000)
    fresh = deps.heartbeats.fresh(shown, now)
    answers = []
    for user_id in shown:
        connections = found[user_id]
        online = bool(connections.live) and fresh.get(user_id, True)
        answers.append(presence_data(user_id, ONLINE if online else OFFLINE, None if online else connections.last_seen))
    return answers


def _tell_peers(deps: PresenceDeps, user_id: str, status: str, last_seen_ms: int | None) -> None:
    """Best effort: a presence push never fails the connect, disconnect or ping that caused it."""
    if deps.messaging.pusher is None:
        return
    try:
        peers = deps.messaging.conversations.peer_ids(user_id)
        if peers:
            push_to_users(deps.messaging, peers, presence_envelope(user_id, status, last_seen_ms))
    except StorageUnavailableError:
        logger.warning("presence not pushed", extra={"user_id": user_id, "status": status})
