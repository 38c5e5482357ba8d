"""$connect: records the authenticated connection so pushes can find it. A failure refuses the handshake."""

from shared.observability import lambda_handler
from shared.services.connections import connect
from shared.timefmt import now_ms
from shared.wiring import connections
from shared.ws import caller_id


@lambda_handler
def handler(event: dict, context: object) -> dict:
    request_context = event["requestContext"]
    now = now_ms()
    connect(connections(), caller_id(event), request_context["connectionId"], request_context.get("connectedAt") or now, now)
    return {"statusCode": 200}
