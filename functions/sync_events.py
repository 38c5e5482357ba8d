"""GET /sync?since=&limit=: the caller's missed events; 410 resync_required for a cursor past retention."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.sync import sync, sync_limit
from shared.domain.timefmt import now_ms
from shared.wiring import event_log, messages


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    page = sync(
        event_log(), messages(), request.user_id, request.query.get("since") or None,
        sync_limit(request.query.get("limit")), now_ms(),
    )
    return 200, page.to_dict()
