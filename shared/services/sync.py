"""Offline sync: what a user missed since a cursor, from their event log, as the envelopes a push carries.

A cursor holds the last event seq returned and a time no unreturned event is older than (the first
unreturned event's time when a page was cut, else when it was issued). Events are kept
limits.EVENT_RETENTION_SECONDS, so a cursor whose time is older than that may have lost events: it gets
`resync_required`, and every younger cursor is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from shared.domain import limits, validation
from shared.storage.cursors import decode_cursor, encode_cursor
from shared.adapters.envelope import encode
from shared.domain.errors import BadRequestError, ResyncRequiredError
from shared.realtime.events import (
    MESSAGE_UPDATED,
    NEW_MESSAGE,
    RECEIPT,
    message_updated_envelope,
    new_message_envelope,
    receipt_envelope,
)
from shared.domain.models import LogEvent
from shared.storage.repositories.event_log import EventLogRepository
from shared.storage.repositories.messages import MessageRepository

_CURSOR_NUMBER = re.compile(r"[0-9]{1,16}")  # ASCII digits: int() takes others (²) and refuses 4,300+ digits


# Messages are read 100 at a time (one BatchGetItem) as the page fills, not all at once: a page of big
# messages stops at the byte limit long before `limit`, and what it would not send is not read.
_MESSAGES_PER_READ = 100
_NAMING_A_MESSAGE = (NEW_MESSAGE, MESSAGE_UPDATED)  # events rebuilt from the message as it is now


@dataclass(frozen=True)
class SyncPage:
    events: list[dict]
    next_cursor: str
    has_more: bool

    def to_dict(self) -> dict:
        return {"events": self.events, "next_cursor": self.next_cursor, "has_more": self.has_more}


def sync_limit(raw: object) -> int:
    if raw is None or raw == "":
        return limits.SYNC_DEFAULT_LIMIT
    if isinstance(raw, str):
        return validation.whole_number(raw, "limit", 1, limits.SYNC_MAX_LIMIT)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= limits.SYNC_MAX_LIMIT:
        raise BadRequestError(f"limit must be an integer from 1 to {limits.SYNC_MAX_LIMIT}")
    return raw


def _position(since: object, now_ms: int) -> int:
    """The seq after which to read; raises for a malformed or too old cursor."""
    if since is None or since == "":
        return 0
    if not isinstance(since, str):
        raise BadRequestError("since must be a cursor or null")
    position = decode_cursor(since, ("s", "t"))
    if not (_CURSOR_NUMBER.fullmatch(position["s"]) and _CURSOR_NUMBER.fullmatch(position["t"])):
        raise BadRequestError("invalid cursor")
    if int(position["t"]) < now_ms - limits.EVENT_RETENTION_SECONDS * 1000:
        raise ResyncRequiredError("the cursor is older than the event log keeps: refetch conversations and history")
    return int(position["s"])


def sync(
    log: EventLogRepository, messages: MessageRepository, user_id: str, since: object, limit: int, now_ms: int
) -> SyncPage:
    after = _position(since, now_ms)
    retained_since = now_ms - limits.EVENT_RETENTION_SECONDS * 1000
    read = log.read_after(user_id, after, limit + 1)
    # Expired entries may linger until TTL deletes them: skip them (an older cursor never reaches here).
    entries = [e for e in read if e.created_at_ms > retained_since]
    events: list[dict] = []
    size = 0
    last: LogEvent | None = None
    cut_at: LogEvent | None = None
    stored: dict = {}
    for index, entry in enumerate(entries):
        if len(events) == limit:
            cut_at = entry
            break
        if index % _MESSAGES_PER_READ == 0:  # the messages of the next entries, as the page fills
            chunk = entries[index : index + _MESSAGES_PER_READ]
            stored = messages.get_many([(e.conversation_id, int(e.data.get("seq", 0))) for e in chunk if e.type in _NAMING_A_MESSAGE])
        frame = _envelope(entry, stored, user_id)
        frame_bytes = len(encode(frame).encode()) + 1 if frame else 0
        if events and size + frame_bytes > limits.SYNC_MAX_PAGE_BYTES:
            cut_at = entry
            break
        if frame:
            events.append(frame)
            size += frame_bytes
        last = entry
    has_more = cut_at is not None or len(read) > limit
    # No event after the cursor is older than this: the first one not returned, or the last one returned.
    if cut_at is not None:
        oldest_unreturned = cut_at.created_at_ms
    elif has_more and last is not None:
        oldest_unreturned = last.created_at_ms
    else:
        oldest_unreturned = now_ms
    cursor = encode_cursor({"s": str(last.seq if last else after), "t": str(oldest_unreturned)})
    return SyncPage(events, cursor, has_more)



def _envelope(entry: LogEvent, stored: dict, user_id: str) -> dict | None:
    """The event's envelope; a message is as it is now (a tombstone once deleted, or hidden by the user)."""
    timestamp = entry.created_at_ms // 1000
    message = stored.get((entry.conversation_id, int(entry.data.get("seq", 0))))
    if entry.type == NEW_MESSAGE:
        return new_message_envelope(message.as_seen_by(user_id), timestamp=timestamp) if message else None
    if entry.type == MESSAGE_UPDATED:
        # Named by the version it announced, so the id matches the live push; the content is today's.
        if message is None:
            return None
        announced = replace(message.as_seen_by(user_id), version=int(entry.data.get("version", 0)))
        return message_updated_envelope(announced, timestamp=timestamp)
    if entry.type == RECEIPT:
        data = entry.data
        return receipt_envelope(
            entry.conversation_id, data["user_id"], data["status"], int(data["up_to"]), timestamp=timestamp
        )
    return None
