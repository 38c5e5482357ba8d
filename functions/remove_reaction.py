"""DELETE /messages/{id}/reactions: removes the caller's reaction, if any."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.message_actions import unreact
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    message = unreact(messaging(), request.user_id, request.path_params.get("id"))
    return 200, {"message": message.to_dict()}
