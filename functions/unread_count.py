"""GET /conversations/unread-count: unread messages across the caller's conversations."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.message_actions import unread_count
from shared.wiring import messaging


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    return 200, {"unread_count": unread_count(messaging(), request.user_id)}
