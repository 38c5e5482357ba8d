"""POST /messages/{id}/star: stars the message for the caller alone."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.message_actions import star
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    message = star(messaging(), request.user_id, request.path_params.get("id"))
    return 200, {"message": message.to_dict(), "starred": True}
