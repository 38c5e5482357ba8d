"""The server-to-client WebSocket envelope (the brief's):

{"id": "…", "type": "new_message", "channel": "messaging", "conversation_id": "…", "data": {…}, "timestamp": 1699000000}
"""

from __future__ import annotations

import time

from shared.adapter import dump_json
from shared.ids import new_sortable_id


def envelope(event_type: str, data: dict, *, conversation_id: str | None = None, channel: str = "messaging") -> dict:
    frame = {"id": new_sortable_id(), "type": event_type, "channel": channel}
    if conversation_id is not None:
        frame["conversation_id"] = conversation_id
    frame["data"] = data
    frame["timestamp"] = int(time.time())
    return frame


def encode(frame: dict) -> str:
    return dump_json(frame)
