"""The HTTP adapter: API Gateway HTTP API (payload 2.0) event in, JSON response out.

`http_endpoint` wraps a function `(request) -> (status, body)`: it authenticates the caller through the
authorizer's context, turns ParleyErrors into the contract's error JSON and anything else into a logged 500
(shared/adapters/core.py, the core it shares with the WebSocket adapter).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass

from shared import metrics

from shared.adapters import core

from shared.domain import limits
from shared.domain.errors import BadRequestError, ParleyError
from shared.observability import lambda_handler

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
        return core.json_object(self.raw_body, max_bytes=limits.MAX_HTTP_BODY_BYTES, what="request body")


def caller_id(event: dict) -> str:
    """The user id the HTTP authorizer resolved, or a 401 with the reason it gave."""
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    return core.caller_id(context, context.get("auth_error") or "missing or invalid token")


def _parameters(values: dict | None, where: str) -> dict[str, str]:
    """Path or query parameters as decoded text; refused if decoding lost bytes (invalid UTF-8 turned
    into U+FFFD), so two different raw ids can never name the same thing."""
    values = values or {}
    for value in values.values():
        if "\ufffd" in value or not core.is_valid_text(value):
            raise BadRequestError(f"the {where} is not valid UTF-8 text")
    return values


def parse_request(event: dict) -> HttpRequest:
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode()
        except (ValueError, UnicodeDecodeError):
            raise BadRequestError("request body is not UTF-8 text") from None
    return HttpRequest(
        user_id=caller_id(event),
        path_params=_parameters(event.get("pathParameters"), "path"),
        query=_parameters(event.get("queryStringParameters"), "query string"),
        raw_body=body,
    )


def json_response(status: int, body: dict | None, headers: dict | None = None) -> dict:
    if body is None:  # 204 No Content
        return {"statusCode": status, "headers": {"cache-control": "no-store", **(headers or {})}}
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": core.dump_json(body),
    }


def error_response(error: ParleyError) -> dict:
    headers = {}
    if getattr(error, "retry_after_seconds", None):
        headers["retry-after"] = str(error.retry_after_seconds)
    return json_response(error.status, error.to_dict(), headers)


def http_endpoint(func: Callable[[HttpRequest], tuple[int, dict | None]]) -> Callable[[dict, object], dict]:
    @lambda_handler
    @functools.wraps(func)
    def handler(event: dict, context: object) -> dict:
        try:
            status, body = func(parse_request(event))
            return json_response(status, body)
        except Exception as error:
            parley_error = core.as_parley_error(error)
            metrics.count_error("http", parley_error.code)
            return error_response(parley_error)

    return handler
