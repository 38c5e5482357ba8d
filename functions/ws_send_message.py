"""sendMessage over the WebSocket: store, push to the other devices, answer with a message_ack frame."""

from shared.services.messaging import SendMessageRequest, message_ack, send_message
from shared.wiring import messaging
from shared.adapters.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> dict:
    send = SendMessageRequest.from_body(request.body.get("conversation_id"), request.body)
    result = send_message(messaging(), request.user_id, send, origin_connection_id=request.connection_id)
    return message_ack(result)
