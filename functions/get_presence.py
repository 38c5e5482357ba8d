"""GET /users/{id}/presence: online/offline and last_seen, for users who share a conversation with the caller."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.presence import presence_of
from shared.wiring import presence


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    return 200, {"presence": presence_of(presence(), request.user_id, request.path_params.get("id"))}
