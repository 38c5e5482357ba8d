"""The core the HTTP and WebSocket adapters share: a JSON object out of a body within limits, the
caller's id out of the authorizer's context, and one mapping from any failure to a ParleyError.

Whatever a client sends ends as a ParleyError (a 4xx, or a logged 5xx for a fault of ours), never as an
exception that escapes the handler: deep nesting, NaN, lone surrogates and the like are refused here.
"""

from __future__ import annotations

import json

from shared.domain import limits
from shared.domain.errors import BadRequestError, ParleyError, PayloadTooLargeError, UnauthorizedError
from shared.log import logger
from shared.observability import identify


def is_valid_text(value: str) -> bool:
    """False for strings a UTF-8 wire can't carry (lone surrogates, which JSON's \\ud800 escapes make)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def json_object(raw: str, *, max_bytes: int, what: str) -> dict:
    """`raw` as a JSON object of valid text nested at most limits.MAX_JSON_DEPTH deep, or a 400/413."""
    if len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise PayloadTooLargeError(f"{what} is over {max_bytes} bytes")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise BadRequestError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequestError(f"{what} must be a JSON object")
    _check_json_text(value, what)
    return value


def _check_json_text(value: dict, what: str) -> None:
    """Iterative, so no input can exhaust the stack here either."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limits.MAX_JSON_DEPTH:
            raise BadRequestError(f"{what} is nested more than {limits.MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, child in item.items():
                if not is_valid_text(key):
                    raise BadRequestError(f"{what} holds text that is not valid Unicode")
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not is_valid_text(item):
            raise BadRequestError(f"{what} holds text that is not valid Unicode")


def caller_id(authorizer_context: object, reason_if_missing: str, *, fallback_key: str | None = None) -> str:
    """The user id an authorizer put in its context, or a 401 saying why there is none."""
    context = authorizer_context if isinstance(authorizer_context, dict) else {}
    user_id = context.get("user_id") or (context.get(fallback_key) if fallback_key else None)
    if not isinstance(user_id, str) or not user_id:
        raise UnauthorizedError(reason_if_missing)
    identify(user_id)  # every later log line of the invocation names the caller
    return user_id


def as_parley_error(error: Exception) -> ParleyError:
    """Call from an `except` block: domain errors pass through, anything else is a logged 500 that
    tells the client nothing about our internals."""
    if isinstance(error, ParleyError):
        if error.status >= 500:
            logger.warning("request failed", extra={"code": error.code, "reason": error.message})
        return error
    logger.exception("unhandled error")
    return ParleyError("internal error")


def dump_json(value: object) -> str:
    """Compact JSON, non-ASCII kept as is; escaped only if the text could not go out as UTF-8."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if is_valid_text(text) else json.dumps(value, separators=(",", ":"))
