"""read: the caller has read everything up to `message_id` (the latest when omitted). No answer on success."""

from shared.services.receipts import mark_read
from shared.wiring import messaging
from shared.adapters.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> None:
    mark_read(
        messaging(),
        request.user_id,
        request.body.get("conversation_id"),
        request.body.get("message_id"),
        origin_connection_id=request.connection_id,
    )
