"""GET /messages/search?q=…: the caller's messages with every word of q (as a word or a word's start),
newest first; `limit` and `cursor` -> `next_cursor`."""

from shared.storage.cursors import page_size
from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.search import search_messages
from shared.wiring import search


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    page = search_messages(
        search(),
        request.user_id,
        request.query.get("q"),
        page_size(request.query.get("limit")),
        request.query.get("cursor") or None,
    )
    return 200, {"results": [result.to_dict() for result in page.results], "next_cursor": page.next_cursor}
