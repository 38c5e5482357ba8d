"""ack: the caller's devices have received everything up to `message_id`. No answer on success."""

from shared.services.receipts import acknowledge
from shared.wiring import messaging
from shared.adapters.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> None:
    acknowledge(messaging(), request.user_id, request.body.get("conversation_id"), request.body.get("message_id"))
