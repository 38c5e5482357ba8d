"""DELETE /messages/{id}/star: unstars it (harmless if it was not starred)."""

from shared.http import HttpRequest, http_endpoint
from shared.services.message_actions import unstar
from shared.wiring import messaging, stars


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    unstar(messaging(), stars(), request.user_id, request.path_params.get("id"))
    return 200, {"starred": False}
