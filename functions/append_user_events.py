"""user_conversations stream: appends what each change of a user's row means to that user's event log
(the log's only writer; records of one user arrive in order, one batch at a time)."""

from shared.repositories.conversations import conversation_from_image
from shared.services.event_log import append_user_events
from shared.stream import StreamRecord, stream_consumer
from shared.timefmt import now_ms
from shared.wiring import event_log


def process(record: StreamRecord) -> None:
    if record.event_name == "REMOVE":
        return
    change = record.raw["dynamodb"]
    old, new = conversation_from_image(change.get("OldImage")), conversation_from_image(change["NewImage"])
    append_user_events(event_log(), old, new, now_ms())


handler = stream_consumer(process)
