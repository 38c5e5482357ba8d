"""GET /users/presence/bulk?ids=a,b: presence of each visible user (others are left out), in the order asked."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.presence import presence_of_many
from shared.wiring import presence


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    return 200, {"presence": presence_of_many(presence(), request.user_id, request.query.get("ids"))}
