"""typing {"conversation_id", "state": "start"|"stop"}: tells the peer's devices. No answer on success."""

from shared.services.typing import send_typing
from shared.wiring import messaging, typing_limiter
from shared.adapters.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> None:
    send_typing(
        messaging(), typing_limiter(), request.user_id, request.body.get("conversation_id"), request.body.get("state")
    )
