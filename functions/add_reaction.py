"""POST /messages/{id}/reactions {"emoji": "…"}: sets the caller's reaction (one emoji; a new one replaces it)."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.message_actions import react
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    body = request.json_body()
    message = react(messaging(), request.user_id, request.path_params.get("id"), body.get("emoji"))
    return 200, {"message": message.to_dict()}
