"""GET /conversations/{id}: one of the caller's conversations; 404 for anyone else's."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.conversations import get_conversation
from shared.wiring import conversations


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    conversation = get_conversation(conversations(), request.user_id, request.path_params.get("id", ""))
    return 200, {"conversation": conversation.to_dict()}
