"""ping: answers pong, and keeps the caller's presence fresh (send one every ~50 s; API Gateway also closes a
connection idle for 10 minutes)."""

from shared.envelope import envelope
from shared.services.presence import heartbeat
from shared.wiring import heartbeats, presence
from shared.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> dict:
    heartbeat(heartbeats(), presence, request.user_id)
    return envelope("pong", {})
