"""GET /conversations: the caller's conversations, most recent activity first, cursor-paginated."""

from shared.storage.cursors import page_size
from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.conversations import list_conversations
from shared.wiring import conversations


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    page = list_conversations(
        conversations(), request.user_id, page_size(request.query.get("limit")), request.query.get("cursor") or None
    )
    return 200, {
        "conversations": [conversation.to_dict() for conversation in page.items],
        "next_cursor": page.next_cursor,
    }
