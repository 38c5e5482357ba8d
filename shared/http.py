"""The HTTP adapter: API Gateway HTTP API (payload 2.0) event in, JSON response out.

`http_endpoint` wraps a function `(request) -> (status, body)`: it authenticates the caller through the
authorizer's context, turns ParleyErrors into the contract's error JSON and anything else into a logged 500.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

from shared import limits
from shared.errors import BadRequestError, ParleyError, PayloadTooLargeError, UnauthorizedError
from shared.log import logger

JSON_HEADERS = {"content-type": "application/json; charset=utf-8", "cache-control": "no-store"}


@dataclass(frozen=True)
class HttpRequest:
    user_id: str
    path_params: dict[str, str]
    query: dict[str, str]
    raw_body: str | None

    def json_body(self) -> dict:
        if not self.raw_body:
            raise BadRequestError("request body must be a JSON object")
        if len(self.raw_body.encode()) > limits.MAX_HTTP_BODY_BYTES:
            raise PayloadTooLargeError(f"request body is over {limits.MAX_HTTP_BODY_BYTES} bytes")
        try:
            body = json.loads(self.raw_body)
        except ValueError:
            raise BadRequestError("request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequestError("request body must be a JSON object")
        return body


def caller_id(event: dict) -> str:
    """The user id the HTTP authorizer resolved, or a 401 with the reason it gave."""
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    user_id = context.get("user_id")
    if not user_id:
        raise UnauthorizedError(context.get("auth_error") or "missing or invalid token")
    return user_id


def parse_request(event: dict) -> HttpRequest:
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode()
        except (ValueError, UnicodeDecodeError):
            raise BadRequestError("request body is not UTF-8 text") from None
    return HttpRequest(
        user_id=caller_id(event),
        path_params=event.get("pathParameters") or {},
        query=event.get("queryStringParameters") or {},
        raw_body=body,
    )


def json_response(status: int, body: dict, headers: dict | None = None) -> dict:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
    }


def error_response(error: ParleyError) -> dict:
    headers = {}
    if getattr(error, "retry_after_seconds", None):
        headers["retry-after"] = str(error.retry_after_seconds)
    return json_response(error.status, error.to_dict(), headers)


def http_endpoint(func: Callable[[HttpRequest], tuple[int, dict]]) -> Callable[[dict, object], dict]:
    @functools.wraps(func)
    def handler(event: dict, context: object) -> dict:
        try:
            status, body = func(parse_request(event))
            return json_response(status, body)
        except ParleyError as error:
            if error.status >= 500:
                logger.warning("request failed", extra={"code": error.code, "reason": error.message})
            return error_response(error)
        except Exception:
            logger.exception("unhandled error")
            return json_response(500, {"error": {"code": "internal_error", "message": "internal error"}})

    return handler
