"""What every function does around its handler: correlated log lines and per-invocation metrics.

`@lambda_handler` (or an adapter built on it: shared/adapters/http.py, shared/adapters/ws.py) gives every log line of an
invocation the keys an operator filters by: `function`, `route`, `correlation_id` (API Gateway's request
id), `connection_id` (WebSocket), `function_request_id` (Lambda's), `cold_start`, and `user_id` once the
caller is known (`identify`). When the handler returns, what it counted (shared/metrics.py) is written as
EMF. tests/unit/test_observability.py checks that every function in the route table is wrapped.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from shared import metrics
from shared.log import logger

# The function (route name) whose handler runs in this context: tests and the local runtime check its
# DynamoDB calls against its grants (shared/routes.py).
current_function: ContextVar[str | None] = ContextVar("parley_current_function", default=None)

_warm: set[str] = set()  # functions that have run in this process (the local runtime hosts them all)
_warm_lock = threading.Lock()


def lambda_handler(handler: Callable[[dict, Any], Any]) -> Callable[[dict, Any], Any]:
    # functions/<name>.py: the module names the function (and its route).
    function = (getattr(handler, "__module__", None) or "handler").rsplit(".", 1)[-1]

    @functools.wraps(handler)
    def invoke(event: dict, context: Any) -> Any:
        token = current_function.set(function)
        begin(function, event, context)
        try:
            return handler(event, context)
        finally:
            try:
                metrics.flush()
            except Exception:  # metrics must never fail a request
                logger.exception("could not write metrics")
            current_function.reset(token)

    invoke.parley_instrumented = True
    from shared.wiring import prepare_at_init

    prepare_at_init(function)  # Lambda's init phase: this runs as the handler module is imported
    return invoke


def begin(function: str, event: Any, context: Any) -> None:
    with _warm_lock:
        cold_start = function not in _warm
        _warm.add(function)
    request_context = (event.get("requestContext") if isinstance(event, dict) else None) or {}
    keys = {
        "function": function,
        "cold_start": cold_start,
        "route": request_context.get("routeKey") or (event.get("routeKey") if isinstance(event, dict) else None),
        "correlation_id": request_context.get("requestId"),
        "connection_id": request_context.get("connectionId"),
        "function_request_id": getattr(context, "aws_request_id", None),
    }
    logger.thread_safe_clear_keys()  # a warm container (or a local pool thread) ran someone else before
    logger.thread_safe_append_keys(**{key: value for key, value in keys.items() if value is not None})


def identify(user_id: str) -> None:
    """The caller is known: every later log line of this invocation names them."""
    logger.thread_safe_append_keys(user_id=user_id)
