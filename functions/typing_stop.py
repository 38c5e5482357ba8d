"""POST /conversations/{id}/typing/stop: tells the peer's devices (`typing`, state stop); 204."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.typing import send_typing
from shared.wiring import messaging, typing_limiter


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict | None]:
    send_typing(messaging(), typing_limiter(), request.user_id, request.path_params.get("id"), "stop")
    return 204, None
