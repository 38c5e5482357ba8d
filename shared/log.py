"""One structured logger (Powertools Logger) for every function, made when it writes its first line.

Most invocations write no line, and importing Powertools is ~10 ms of a data route's cold start (~25 ms of
an authorizer's): until a line is written, the invocation's keys (shared/observability.py) are kept here,
per context as Powertools keeps its thread-safe keys, and each line is written with the keys of its context.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar

from shared.resources import SERVICE_NAME

_keys: ContextVar[dict | None] = ContextVar("parley_log_keys", default=None)


@functools.cache
def _powertools_logger():
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE_NAME)


class FunctionLogger:
    """Powertools Logger's interface (what Parley uses of it), the logger made on the first line."""

    def thread_safe_append_keys(self, **keys: object) -> None:
        _keys.set({**(_keys.get() or {}), **keys})

    def thread_safe_clear_keys(self) -> None:
        _keys.set(None)

    def debug(self, msg: object, *args, **kwargs) -> None:
        self._write("debug", msg, args, kwargs)

    def info(self, msg: object, *args, **kwargs) -> None:
        self._write("info", msg, args, kwargs)

    def warning(self, msg: object, *args, **kwargs) -> None:
        self._write("warning", msg, args, kwargs)

    def error(self, msg: object, *args, **kwargs) -> None:
        self._write("error", msg, args, kwargs)

    def exception(self, msg: object, *args, **kwargs) -> None:
        self._write("exception", msg, args, kwargs)

    def critical(self, msg: object, *args, **kwargs) -> None:
        self._write("critical", msg, args, kwargs)

    def __getattr__(self, name: str):  # anything else: Powertools' own (tests set its handler's stream)
        return getattr(_powertools_logger(), name)

    @staticmethod
    def _write(level: str, msg: object, args: tuple, kwargs: dict) -> None:
        logger = _powertools_logger()
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**(_keys.get() or {}))
        # The line's `location` names our caller: Powertools' default counts one frame of its own, plus ours.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 2) + 2
        getattr(logger, level)(msg, *args, **kwargs)


logger = FunctionLogger()
