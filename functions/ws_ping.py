"""ping: answers pong (keeps the connection from idling out and lets a client measure round trips)."""

from shared.envelope import envelope
from shared.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> dict:
    return envelope("pong", {})
