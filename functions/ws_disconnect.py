"""$disconnect: forgets the connection. API Gateway passes the $connect authorizer's context here too, so
the user is known. Best effort on AWS: an entry a lost $disconnect leaves is dropped on its expiry or on
the first push that gets 410."""

from shared.errors import UnauthorizedError
from shared.log import logger
from shared.observability import lambda_handler
from shared.services.connections import disconnect
from shared.timefmt import now_ms
from shared.wiring import connections
from shared.ws import caller_id


@lambda_handler
def handler(event: dict, context: object) -> dict:
    try:
        user_id = caller_id(event)
    except UnauthorizedError:
        logger.warning("$disconnect without an authorizer context")
        return {"statusCode": 200}
    disconnect(connections(), user_id, event["requestContext"]["connectionId"], now_ms())
    return {"statusCode": 200}
