"""$connect: records the authenticated connection so pushes can find it. A failure refuses the handshake."""

from shared.services.connections import connect
from shared.timefmt import now_ms
from shared.wiring import connections
from shared.ws import caller_id


def handler(event: dict, context: object) -> dict:
    request_context = event["requestContext"]
    connect(
        connections(),
        request_context["connectionId"],
        caller_id(event),
        request_context.get("connectedAt") or now_ms(),
    )
    return {"statusCode": 200}
