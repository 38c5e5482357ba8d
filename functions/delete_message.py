"""DELETE /messages/{id}: the sender deletes it for everyone (a tombstone stays); `?for=me`: either
participant hides it from themselves alone."""

from shared.domain.errors import BadRequestError
from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.message_actions import delete_message
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    scope = request.query.get("for", "everyone")
    if scope not in ("me", "everyone"):
        raise BadRequestError("for must be me or everyone")
    message = delete_message(messaging(), request.user_id, request.path_params.get("id"), for_me=scope == "me")
    return 200, {"message": message.to_dict()}
