"""The server-to-client WebSocket envelope (the brief's):

{"id": "…", "type": "new_message", "channel": "messaging", "conversation_id": "…", "data": {…}, "timestamp": 1699000000}

Events a user can also get from sync carry stable ids (shared/realtime/events.py); other frames a fresh one.
"""

from __future__ import annotations

import time

from shared.adapters.core import dump_json
from shared.domain.ids import new_sortable_id


def envelope(
    event_type: str,
    data: dict,
    *,
    conversation_id: str | None = None,
    channel: str = "messaging",
    event_id: str | None = None,
    timestamp: int | None = None,
) -> dict:
    frame = {"id": event_id or new_sortable_id(), "type": event_type, "channel": channel}
    if conversation_id is not None:
        frame["conversation_id"] = conversation_id
    frame["data"] = data
    frame["timestamp"] = int(time.time()) if timestamp is None else timestamp
    return frame


def encode(frame: dict) -> str:
    return dump_json(frame)
