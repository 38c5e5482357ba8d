"""user_conversations stream: appends what each change of a user's row means to that user's event log
(the log's only writer; records of one user arrive in order, one batch at a time), a batch at a time."""

from shared.storage.repositories.conversations import conversation_from_image
from shared.services.event_log import append_user_events
from shared.adapters.stream import StreamRecord, stream_batch_consumer
from shared.domain.timefmt import now_ms
from shared.wiring import event_log


def process(records: list[StreamRecord]) -> int | None:
    changes = [
        (position, conversation_from_image(change.get("OldImage")), conversation_from_image(change["NewImage"]))
        for position, record in enumerate(records)
        if record.event_name != "REMOVE" and (change := record.raw["dynamodb"])
    ]
    return append_user_events(event_log(), changes, now_ms())


handler = stream_batch_consumer(process)
