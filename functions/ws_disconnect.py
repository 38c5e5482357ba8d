"""$disconnect: forgets the connection (best effort on AWS; TTL sweeps any record left behind)."""

from shared.services.connections import disconnect
from shared.wiring import connections


def handler(event: dict, context: object) -> dict:
    disconnect(connections(), event["requestContext"]["connectionId"])
    return {"statusCode": 200}
