"""The per-user event log: an ordered, gap-free seq per user, appended by one writer per user
(the append_user_events consumer), read by sync."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import PutError

from shared import limits
from shared.models import LogEvent
from shared.repositories.storage import is_conditional_failure, storage_call
from shared.tables import EventRecord

# How far back an append looks for events it already wrote, beyond the events it is given. A user's events
# from one batch are appended together by the log's only writer, and a batch comes again only from a
# record on (or whole, after a crash): what was appended of the events given is then the log's newest
# entries, so the events' own count is enough. The margin is for safety; the tail stays one read unit.
DEDUPE_WINDOW = 8


class LogWriterConflictError(Exception):
    """Another writer appended at the same seq: the single-writer assumption was broken; retry the record."""


class EventLogRepository:
    def append(self, user_id: str, events: Sequence[LogEvent], now_ms: int) -> int:
        """Appends the events not already in the log's tail, in order, each at tail + 1 (conditional put,
        so a concurrent writer fails instead of overwriting). Returns how many were appended."""
        if not events:
            return 0
        with storage_call("read event log tail"):
            tail = list(
                EventRecord.query(
                    user_id,
                    scan_index_forward=False,
                    limit=len(events) + DEDUPE_WINDOW,
                    consistent_read=True,
                    attributes_to_get=["seq", "event_id"],
                )
            )
        present = {record.event_id for record in tail}
        seq = int(tail[0].seq) if tail else 0
        appended = 0
        for event in events:
            if event.event_id in present:
                continue
            seq += 1
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
                    if is_conditional_failure(error):
                        raise LogWriterConflictError(f"{user_id}: seq {seq} already taken") from None
                    raise
            appended += 1
        return appended

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
