"""POST /conversations/{userId}: starts the 1-on-1 with that user (201), or returns it (200)."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.conversations import start_conversation
from shared.wiring import conversations


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    conversation, created = start_conversation(conversations(), request.user_id, request.path_params.get("id"))
    return (201 if created else 200), {"conversation": conversation.to_dict()}
