"""DELETE /messages/{id}/star: unstars it (harmless if it was not starred)."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.message_actions import unstar
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    message = unstar(messaging(), request.user_id, request.path_params.get("id"))
    return 200, {"message": message.to_dict(), "starred": False}
