"""POST /conversations/{id}/messages: 201 with the stored message, 200 with it again for a retry."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.messaging import SendMessageRequest, send_message
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    send = SendMessageRequest.from_body(request.path_params.get("id"), request.json_body())
    result = send_message(messaging(), request.user_id, send)
    return (201 if result.created else 200), {"message": result.message.to_dict()}
