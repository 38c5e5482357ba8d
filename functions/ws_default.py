"""$default: any frame whose `action` has no route gets an error frame; the connection stays open."""

from shared.domain.errors import BadRequestError
from shared.adapters.ws import WsRequest, ws_endpoint


@ws_endpoint
def handler(request: WsRequest) -> dict:
    action = request.body.get("action")
    if not isinstance(action, str) or not action:
        raise BadRequestError("frame needs an `action`")
    raise BadRequestError(f"unknown action {action[:64]!r}")
