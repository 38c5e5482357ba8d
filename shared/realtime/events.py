"""Events a user is told about, in ONE place: their stable ids and their envelopes.

The live push and the event log (sync) build the same envelope with the same id, so a client that gets an
event both ways recognises it (delivery is at least once, ids are stable).
"""

from __future__ import annotations

from shared.adapters.envelope import envelope
from shared.domain.ids import message_id
from shared.domain.models import Message
from shared.domain.timefmt import iso_from_ms

NEW_MESSAGE = "new_message"
RECEIPT = "receipt"
MESSAGE_UPDATED = "message_updated"


def new_message_event_id(conversation_id: str, seq: int) -> str:
    return f"msg:{conversation_id}:{seq}"


def message_updated_event_id(conversation_id: str, seq: int, version: int) -> str:
    return f"upd:{conversation_id}:{seq}:{version}"


def receipt_event_id(conversation_id: str, user_id: str, status: str, up_to_seq: int) -> str:
    return f"rcpt:{conversation_id}:{user_id}:{status}:{up_to_seq}"


def new_message_envelope(message: Message, *, timestamp: int | None = None) -> dict:
    """`new_message`, as pushed and as synced: the message as it was stored (status `sent`)."""
    return envelope(
        NEW_MESSAGE,
        {"message": message.to_dict()},
        conversation_id=message.conversation_id,
        event_id=new_message_event_id(message.conversation_id, message.seq),
        timestamp=timestamp,
    )


def message_updated_envelope(message: Message, *, timestamp: int | None = None) -> dict:
    """`message_updated`, as pushed and as synced: the message as the recipient sees it now (its reactions,
    a tombstone once deleted)."""
    return envelope(
        MESSAGE_UPDATED,
        {"message": message.to_dict()},
        conversation_id=message.conversation_id,
        event_id=message_updated_event_id(message.conversation_id, message.seq, message.version),
        timestamp=timestamp,
    )


def receipt_envelope(
    conversation_id: str, user_id: str, status: str, up_to_seq: int, *, timestamp: int | None = None
) -> dict:
    """`receipt`: `user_id` has received (`delivered`) or read (`read`) everything up to the message."""
    data = {
        "user_id": user_id,
        "status": status,
        "up_to_message_id": message_id(conversation_id, up_to_seq),
        "up_to_seq": up_to_seq,
    }
    return envelope(
        RECEIPT,
        data,
        conversation_id=conversation_id,
        event_id=receipt_event_id(conversation_id, user_id, status, up_to_seq),
        timestamp=timestamp,
    )


def media_envelope(media) -> dict:
    """`media_ready` / `media_rejected`: the upload's outcome, to the uploader's devices (once per media:
    a redelivered S3 event settles nothing twice, so it pushes nothing twice)."""
    frame_type = "media_ready" if media.status == "ready" else "media_rejected"
    return envelope(frame_type, {"media": media.to_dict()}, event_id=f"media:{media.id}:{media.status}")


def sync_envelope(events: list[dict], next_cursor: str, has_more: bool) -> dict:
    return envelope("sync", {"events": events, "next_cursor": next_cursor, "has_more": has_more})


def message_ack_envelope(message: Message, duplicate: bool) -> dict:
    """Answers a WebSocket send: the stored message (status `sent`); `duplicate` for a retry."""
    data = {"client_message_id": message.client_message_id, "message": message.to_dict(), "duplicate": duplicate}
    return envelope("message_ack", data, conversation_id=message.conversation_id)


def typing_envelope(conversation_id: str, user_id: str, state: str) -> dict:
    """`typing`: live only, never logged (the receiving client clears it 3 s after the last `start`)."""
    return envelope("typing", {"user_id": user_id, "state": state}, conversation_id=conversation_id)


def presence_envelope(user_id: str, status: str, last_seen_ms: int | None) -> dict:
    """`presence`: live only; GET /users/{id}/presence answers the same `data`."""
    return envelope("presence", presence_data(user_id, status, last_seen_ms), channel="presence")


def presence_data(user_id: str, status: str, last_seen_ms: int | None) -> dict:
    return {"user_id": user_id, "status": status, "last_seen": iso_from_ms(last_seen_ms) if last_seen_ms else None}
