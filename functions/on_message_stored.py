"""messages stream: moves the recipient's conversation row to each new message (idempotent)."""

from shared.repositories.messages import message_from_image
from shared.services.event_log import on_message_stored
from shared.stream import StreamRecord, stream_consumer
from shared.wiring import conversations


def process(record: StreamRecord) -> None:
    if record.event_name == "INSERT":
        on_message_stored(conversations(), message_from_image(record.raw["dynamodb"]["NewImage"]))


handler = stream_consumer(process)
