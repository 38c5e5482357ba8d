"""Every minute: users whose devices stopped their heartbeat (gone without a $disconnect) go offline."""

from shared.log import logger
from shared.observability import lambda_handler
from shared.services.presence import sweep_lapsed
from shared.wiring import presence


@lambda_handler
def handler(event: dict, context: object) -> dict:
    lapsed = sweep_lapsed(presence())
    if lapsed:
        logger.info("users went offline", extra={"count": len(lapsed)})
    return {"offline": len(lapsed)}
