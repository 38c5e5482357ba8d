"""The search_indexer consumer (the events table's stream): keeps each user's search index in line with
the messages their event log names. Records of one user arrive in order, one batch at a time: this is the
only writer of that user's index (README, "Search").

A batch is applied per user, one read-modify-write of each index; when a user's update fails, the batch
resumes from that user's first record (the users before it are done; the rest are redone, harmlessly).
"""

from shared import wiring
from shared.realtime.events import MESSAGE_UPDATED, NEW_MESSAGE
from shared.services.search import IndexingFailedError, MessageEvent, index_user_events
from shared.adapters.stream import StreamRecord, stream_batch_consumer


def message_event(record: StreamRecord) -> MessageEvent | None:
    """The message an appended log entry names, if any (receipts and TTL expiries name none)."""
    event = record.new_image if record.event_name == "INSERT" else None
    if not event or event.get("type") not in (NEW_MESSAGE, MESSAGE_UPDATED):
        return None
    seq = (event.get("data") or {}).get("seq")
    if not isinstance(seq, int):
        return None
    return MessageEvent(event["user_id"], event["conversation_id"], seq, new=event["type"] == NEW_MESSAGE)


def process(records: list[StreamRecord]) -> int | None:
    events = [(position, message_event(record)) for position, record in enumerate(records)]
    events = [(position, event) for position, event in events if event is not None]
    try:
        index_user_events(wiring.search(), [event for _, event in events])
    except IndexingFailedError as failure:
        return next(position for position, event in events if event.user_id == failure.user_id)
    return None


handler = stream_batch_consumer(process)
