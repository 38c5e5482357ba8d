"""GET /conversations/{id}/messages: newest first, `limit` (default 50) and `cursor` -> `next_cursor`."""

from shared.storage.cursors import page_size
from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.messaging import list_messages
from shared.wiring import conversations, messages


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    page = list_messages(
        conversations(),
        messages(),
        request.user_id,
        request.path_params.get("id", ""),
        page_size(request.query.get("limit")),
        request.query.get("cursor") or None,
    )
    return 200, {"messages": [message.to_dict() for message in page.items], "next_cursor": page.next_cursor}
