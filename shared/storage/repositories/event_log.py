"""The per-user event log: an ordered, gap-free seq per user, appended by one writer per user
(the append_user_events consumer), read by sync."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import PutError

from shared.domain import limits
from shared.domain.models import LogEvent
from shared.storage.repositories.storage import is_conditional_failure, storage_call
from shared.storage.tables import EventRecord

# How far back an append looks for events it already wrote, beyond the events it is given. A user's events
# from one batch are appended together by the log's only writer, and a batch comes again only from a
# record on (or whole, after a crash): what was appended of the events given is then the log's newest
# entries, so the events' own count is enough. The margin is for safety; the tail stays one read unit.
# It reads the tail only when the writer does not remember it (EventLogRepository.append).
DEDUPE_WINDOW = 8


class LogWriterConflictError(Exception):
    """Another writer appended at the same seq: the single-writer assumption was broken; retry the record."""


class _StaleTail(Exception):
    """The remembered tail was not the log's: another writer appended since."""


# The tails this writer appended last, per user (bounded): the next append of that user needs no read.
_TAILS_KEPT = 10_000
_TAIL_IDS_KEPT = 64


@dataclass
class _Tail:
    seq: int  # the log's newest seq
    event_ids: deque  # the newest entries' event ids, newest last


class EventLogRepository:
    def __init__(self):
        self._tails: dict[str, _Tail] = {}
        self._lock = threading.Lock()

    def append(self, user_id: str, events: Sequence[LogEvent], now_ms: int) -> int:
        """Appends the events not already in the log's tail, in order, each at tail + 1 (conditional put,
        so a concurrent writer fails instead of overwriting). Returns how many were appended.

        The tail comes from what this writer appended last for the user, else from a read. A remembered
        tail is only a guess: if another writer appended since (the user's records moved to another
        consumer instance), the put at the guessed seq fails its condition and the append starts again
        from a read. A redelivered batch comes back to the writer that appended it, whose remembered ids
        skip it, or to another one, which reads the tail."""
        if not events:
            return 0
        with self._lock:
            tail = self._tails.pop(user_id, None)  # held by this append until it ends well
        try:
            appended, tail = self._append(user_id, events, now_ms, tail)
        except _StaleTail:
            appended, tail = self._append(user_id, events, now_ms, None)
        with self._lock:
            if len(self._tails) >= _TAILS_KEPT:
                self._tails.clear()
            self._tails[user_id] = tail
        return appended

    def _append(self, user_id: str, events: Sequence[LogEvent], now_ms: int, tail: _Tail | None):
        guessed = tail is not None
        if tail is None:
            tail = self._read_tail(user_id, len(events) + DEDUPE_WINDOW)
        appended = 0
        for event in events:
            if event.event_id in tail.event_ids:
                continue
            seq = tail.seq + 1
            record = EventRecord(
                user_id,
                seq,
                event_id=event.event_id,
                type=event.type,
                conversation_id=event.conversation_id,
                data=event.data,
                created_at=now_ms,
                expires_at=datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
                + timedelta(seconds=limits.EVENT_RETENTION_SECONDS),
            )
            with storage_call("append event"):
                try:
                    record.save(condition=EventRecord.seq.does_not_exist())
                except PutError as error:
                    if not is_conditional_failure(error):
                        raise
                    if guessed:
                        raise _StaleTail() from None
                    raise LogWriterConflictError(f"{user_id}: seq {seq} already taken") from None
            tail.seq = seq
            tail.event_ids.append(event.event_id)
            appended += 1
        return appended, tail

    def _read_tail(self, user_id: str, entries: int) -> _Tail:
        with storage_call("read event log tail"):
            records = list(
                EventRecord.query(
                    user_id,
                    scan_index_forward=False,
                    limit=entries,
                    consistent_read=True,
                    attributes_to_get=["seq", "event_id"],
                )
            )
        newest_last = [record.event_id for record in reversed(records)]
        return _Tail(int(records[0].seq) if records else 0, deque(newest_last, maxlen=max(_TAIL_IDS_KEPT, entries)))

    def read_after(self, user_id: str, after_seq: int, limit: int) -> list[LogEvent]:
        """Up to `limit` events after `after_seq`, oldest first, by a consistent read."""
        with storage_call("read event log"):
            records = list(
                EventRecord.query(
                    user_id,
                    range_key_condition=EventRecord.seq > after_seq,
                    limit=limit,
                    page_size=limit,
                    consistent_read=True,
                )
            )
        return [
            LogEvent(
                event_id=r.event_id,
                type=r.type,
                conversation_id=r.conversation_id,
                data=_plain(r.data),
                seq=int(r.seq),
                created_at_ms=int(r.created_at),
            )
            for r in records
        ]


def _plain(data) -> dict:
    return data.as_dict() if hasattr(data, "as_dict") else dict(data or {})
