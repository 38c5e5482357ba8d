"""$connect: records the authenticated connection so pushes can find it (a failure refuses the handshake);
the user's first live connection makes them online for their peers."""

from shared.observability import lambda_handler
from shared.services.presence import connected
from shared.domain.timefmt import now_ms
from shared.wiring import presence
from shared.adapters.ws import caller_id


@lambda_handler
def handler(event: dict, context: object) -> dict:
    request_context = event["requestContext"]
    connected(presence(), caller_id(event), request_context["connectionId"], request_context.get("connectedAt") or now_ms())
    return {"statusCode": 200}
