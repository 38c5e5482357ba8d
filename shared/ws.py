"""The WebSocket adapter: API Gateway WebSocket event in, a frame back to the caller out.

Routes configured to return a response send the handler's body to the calling connection, so a
failed action answers with an `error` frame and the connection stays open (the status is always 200:
anything else would only be logged by API Gateway, never seen by the client).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

from shared import limits
from shared.envelope import encode, envelope
from shared.errors import BadRequestError, ParleyError, PayloadTooLargeError, UnauthorizedError
from shared.log import logger


@dataclass(frozen=True)
class WsRequest:
    connection_id: str
    user_id: str
    body: dict


def caller_id(event: dict) -> str:
    """API Gateway passes the $connect authorizer's context with every later message of the connection."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    user_id = authorizer.get("user_id") or authorizer.get("principalId")
    if not user_id:
        raise UnauthorizedError("connection is not authenticated")
    return user_id


def parse_body(raw: str | None) -> dict:
    if raw is None:
        return {}
    if len(raw.encode()) > limits.WS_MAX_FRAME_BYTES:
        raise PayloadTooLargeError("frame is too large")
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequestError("frame is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequestError("frame must be a JSON object")
    return body


def frame_response(frame: dict | None) -> dict:
    response = {"statusCode": 200}
    if frame is not None:
        response["body"] = encode(frame)
    return response


def error_frame(error: ParleyError, body: dict) -> dict:
    data = error.to_dict()
    # Echo what lets the client match the error to what it sent.
    for key in ("action", "client_message_id", "request_id"):
        if isinstance(body.get(key), str):
            data[key] = body[key][:128]
    return envelope("error", data)


def ws_endpoint(func: Callable[[WsRequest], dict | None]) -> Callable[[dict, object], dict]:
    @functools.wraps(func)
    def handler(event: dict, context: object) -> dict:
        body: dict = {}
        try:
            body = parse_body(event.get("body"))
            request = WsRequest(
                connection_id=event["requestContext"]["connectionId"],
                user_id=caller_id(event),
                body=body,
            )
            return frame_response(func(request))
        except ParleyError as error:
            return frame_response(error_frame(error, body))
        except Exception:
            logger.exception("unhandled error")
            return frame_response(error_frame(ParleyError("internal error"), body))

    return handler
