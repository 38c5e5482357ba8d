"""PATCH /conversations/{id}/read {"message_id"?}: read up to that message (the latest when omitted)."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.receipts import read_conversation
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    body = request.json_body() if request.raw_body else {}
    conversation = read_conversation(
        messaging(), request.user_id, request.path_params.get("id", ""), body.get("message_id")
    )
    return 200, {"conversation": conversation.to_dict()}
