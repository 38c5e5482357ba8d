"""GET /messages/starred: the caller's starred messages, newest starred first; `limit`, `cursor`."""

from shared.storage.cursors import page_size
from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.message_actions import list_starred
from shared.wiring import messaging, stars


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    page = list_starred(
        messaging(), stars(), request.user_id, page_size(request.query.get("limit")), request.query.get("cursor") or None
    )
    return 200, {"starred": [entry.to_dict() for entry in page.items], "next_cursor": page.next_cursor}
