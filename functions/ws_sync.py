"""sync {"since": cursor|null, "limit"}: the caller's missed events, answered with a `sync` frame."""

from shared.realtime.events import sync_envelope
from shared.services.sync import sync, sync_limit
from shared.domain.timefmt import now_ms
from shared.wiring import event_log, messages
from shared.adapters.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> dict:
    page = sync(
        event_log(), messages(), request.user_id, request.body.get("since"), sync_limit(request.body.get("limit")),
        now_ms(),
    )
    return sync_envelope(page.events, page.next_cursor, page.has_more)
