"""Runs Lambda handlers in a thread pool, as one warm execution environment per function, or in function
worker processes (infra/local/function_workers.py) when given them: handlers passed in (tests' fakes)
always run here.

Each invocation gets a fresh JSON copy of its event (a handler can't change what another sees), a
LambdaContext with the route's memory and timeout, and its result goes through JSON the way the Python
runtime serializes it. A handler that overruns its timeout is reported as timed out; its thread can't be
killed, so it keeps running in the background (a known difference from AWS, which freezes it).
"""

from __future__ import annotations

import asyncio
import decimal
import importlib
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.local.function_workers import EXIT_ERROR, FunctionWorkers, WorkerExited
from infra.local.lambda_context import LambdaContext, function_name, new_log_stream_name
from shared.routes import Route

log = logging.getLogger("local.lambda")

Handler = Callable[[dict, LambdaContext], Any]


class FunctionError(Exception):
    """The handler raised (or could not be imported); ``error_message`` is what Lambda reports."""

    def __init__(self, route: Route, error_type: str, error_message: str) -> None:
        super().__init__(f"{function_name(route)}: {error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message


class FunctionTimeout(Exception):
    """The handler did not return within the route's timeout."""

    def __init__(self, route: Route) -> None:
        super().__init__(f"{function_name(route)}: Task timed out after {route.timeout_seconds} seconds")


class _RuntimeEncoder(json.JSONEncoder):
    """The Python runtime's encoder: Decimal (what boto3's DynamoDB types give) becomes a number."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


class LambdaInvoker:
    def __init__(
        self,
        *,
        region: str,
        handlers: Mapping[str, Handler] | None = None,
        max_workers: int = 128,
        workers: FunctionWorkers | None = None,
        on_import: Callable[[], None] | None = None,
    ) -> None:
        self._region = region
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._given = frozenset(self._handlers)
        self._workers = workers
        self._on_import = on_import
        self._handlers_lock = threading.Lock()
        self._log_streams: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda")

    async def invoke(self, route: Route, event: dict) -> Any:
        """The handler's result, JSON round-tripped; raises FunctionError or FunctionTimeout."""
        payload = json.dumps(event)
        deadline_ms = int(time.time() * 1000) + route.timeout_seconds * 1000
        context = LambdaContext(
            route,
            region=self._region,
            log_stream_name=self._log_stream(route),
            deadline_epoch_ms=deadline_ms,
        )
        if self._workers is not None and route.name not in self._given:
            future = self._in_worker(route, event, payload, context)
        else:
            future = asyncio.get_running_loop().run_in_executor(self._pool, self.run, route, payload, context)
        try:
            return await asyncio.wait_for(future, timeout=route.timeout_seconds)
        except TimeoutError:
            log.error(
                "%s RequestId: %s Task timed out after %s seconds",
                context.function_name,
                context.aws_request_id,
                route.timeout_seconds,
            )
            raise FunctionTimeout(route) from None

    async def _in_worker(self, route: Route, event: dict, payload: str, context: LambdaContext) -> Any:
        try:
            ok, value = await self._workers.invoke(route, event, payload, context)
        except WorkerExited:
            log.error("%s RequestId: %s Error: Runtime exited (its worker process died)", context.function_name,
                      context.aws_request_id)
            raise FunctionError(route, EXIT_ERROR, "Runtime exited without providing a reason") from None
        if not ok:
            raise FunctionError(route, *value)
        return value

    def _log_stream(self, route: Route) -> str:
        stream = self._log_streams.get(route.name)
        if stream is None:
            stream = self._log_streams.setdefault(route.name, new_log_stream_name())
        return stream

    def run(self, route: Route, payload: str, context: LambdaContext) -> Any:
        """One invocation, blocking: the handler's result through JSON, or FunctionError."""
        started = time.perf_counter()
        try:
            handler = self._handler(route)
            result = handler(json.loads(payload), context)
            result = json.loads(json.dumps(result, cls=_RuntimeEncoder))
        except FunctionError:
            raise
        except Exception as exc:
            log.error(
                "%s RequestId: %s [ERROR] %s: %s\n%s",
                context.function_name,
                context.aws_request_id,
                type(exc).__name__,
                exc,
                traceback.format_exc(),
            )
            raise FunctionError(route, type(exc).__name__, str(exc)) from exc
        finally:
            log.info(
                "REPORT %s RequestId: %s Duration: %.2f ms",
                context.function_name,
                context.aws_request_id,
                (time.perf_counter() - started) * 1000,
            )
        return result

    def _handler(self, route: Route) -> Handler:
        with self._handlers_lock:
            handler = self._handlers.get(route.name)
            if handler is None:
                module_name, _, attribute = route.handler.rpartition(".")
                try:
                    handler = getattr(importlib.import_module(module_name), attribute)
                except Exception as exc:
                    log.error("%s: cannot import %s\n%s", function_name(route), route.handler, traceback.format_exc())
                    raise FunctionError(
                        route, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
                    ) from exc
                self._handlers[route.name] = handler
                if self._on_import is not None:
                    self._on_import()
            return handler

    def shutdown(self) -> None:
        """Stops accepting work; a handler still running (past its timeout) is left to finish on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
