"""$disconnect: forgets the connection; with none left the user goes offline (last_seen stored). API Gateway
passes the $connect authorizer's context here too, so the user is known. Best effort on AWS: an entry a lost
$disconnect leaves is dropped on its expiry or on the first push that gets 410, and the presence sweeper
notices the missing heartbeat."""

from shared.domain.errors import UnauthorizedError
from shared.log import logger
from shared.observability import lambda_handler
from shared.services.presence import disconnected
from shared.wiring import presence
from shared.adapters.ws import caller_id


@lambda_handler
def handler(event: dict, context: object) -> dict:
    try:
        user_id = caller_id(event)
    except UnauthorizedError:
        logger.warning("$disconnect without an authorizer context")
        return {"statusCode": 200}
    disconnected(presence(), user_id, event["requestContext"]["connectionId"])
    return {"statusCode": 200}
