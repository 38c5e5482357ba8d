"""The WebSocket adapter: API Gateway WebSocket event in, a frame back to the caller out.

Routes configured to return a response send the handler's body to the calling connection, so a
failed action answers with an `error` frame and the connection stays open (the status is always 200:
anything else would only be logged by API Gateway, never seen by the client). Parsing, the caller's id
and error mapping are shared/adapters/core.py, the core it shares with the HTTP adapter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from shared import metrics

from shared.adapters import core

from shared.domain import limits
from shared.adapters.envelope import encode, envelope
from shared.domain.errors import ParleyError
from shared.observability import lambda_handler


@dataclass(frozen=True)
class WsRequest:
    connection_id: str
    user_id: str
    body: dict


def caller_id(event: dict) -> str:
    """API Gateway passes the $connect authorizer's context with every later message of the connection."""
    authorizer = (event.get("requestContext") or {}).get("authorizer")
    return core.caller_id(authorizer, "connection is not authenticated", fallback_key="principalId")


def parse_body(raw: str | None) -> dict:
    if raw is None:
        return {}
    return core.json_object(raw, max_bytes=limits.WS_MAX_FRAME_BYTES, what="frame")


def frame_response(frame: dict | None) -> dict:
    response = {"statusCode": 200}
    if frame is not None:
        response["body"] = encode(frame)
    return response


def error_frame(error: ParleyError, body: dict) -> dict:
    # Counted by code: the route answers 200 either way, so API Gateway's integration-error metric never
    # sees a failing store; the stack alarms on the server-side codes of this metric instead.
    metrics.count_error("websocket", error.code)
    data = error.to_dict()
    # Echo what lets the client match the error to what it sent.
    for key in ("action", "client_message_id", "request_id"):
        value = body.get(key)
        if isinstance(value, str) and core.is_valid_text(value[:128]):
            data[key] = value[:128]
    return envelope("error", data)


def ws_endpoint(func: Callable[[WsRequest], dict | None]) -> Callable[[dict, object], dict]:
    @lambda_handler
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
        except Exception as error:
            return frame_response(error_frame(core.as_parley_error(error), body))

    return handler
