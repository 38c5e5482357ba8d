"""messages stream: moves the recipient's conversation row to each new message; notes each later change
of a message (reaction, delete) on the rows of those it concerns, for their event logs (idempotent)."""

from shared.storage.repositories.messages import message_from_image
from shared.services.event_log import on_message_changed, on_message_stored
from shared.adapters.stream import StreamRecord, stream_consumer
from shared.wiring import conversations


def process(record: StreamRecord) -> None:
    change = record.raw["dynamodb"]
    if record.event_name == "INSERT":
        on_message_stored(conversations(), message_from_image(change["NewImage"]))
    elif record.event_name == "MODIFY":
        on_message_changed(conversations(), message_from_image(change["OldImage"]), message_from_image(change["NewImage"]))


handler = stream_consumer(process)
