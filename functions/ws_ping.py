"""ping: answers pong, and keeps the caller's presence fresh (send one every ~50 s; API Gateway also closes a
connection idle for 10 minutes). One Redis round trip; storage is loaded only when the heartbeat had lapsed,
so a ping's cold start stays small."""

from shared.adapters.envelope import envelope
from shared.domain.timefmt import now_ms
from shared.wiring import heartbeats, presence
from shared.adapters.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> dict:
    if heartbeats().beat(request.user_id, now_ms()):
        from shared.services.presence import back_online  # PynamoDB and the pusher, only when needed

        back_online(presence(), request.user_id)
    return envelope("pong", {})
