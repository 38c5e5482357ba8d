"""Handlers that tests/component/test_function_workers.py runs in function worker processes (a worker
imports a route's handler by its module path, so test handlers live in a module of their own)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from shared.routes import Route

DIED_ONCE_ENV = "PARLEY_TEST_DIED_ONCE"  # a file: present once a handler has killed its worker
RECORDS_ENV = "PARLEY_TEST_RECORDS"  # a file: one line per record a consumer finished


@dataclass(frozen=True)
class WorkerRoute(Route):
    """A route whose handler is one of this module's functions (a worker imports it from here)."""

    function: str = "where"

    @property
    def handler(self) -> str:
        return f"{__name__}.{self.function}"


def where(event: dict, context) -> dict:
    return {"pid": os.getpid(), "event": event, "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis()}


def fail(event: dict, context) -> None:
    raise ValueError("nope: " + event.get("why", ""))


def die(event: dict, context) -> None:
    os._exit(3)  # the whole worker, as a crash of the runtime would


def sleep(event: dict, context) -> dict:
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def die_once_then_consume(event: dict, context) -> dict:
    """A stream consumer whose worker dies in the middle of its first batch; later batches succeed."""
    marker = os.environ[DIED_ONCE_ENV]
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        os._exit(3)
    with open(os.environ[RECORDS_ENV], "a") as file:
        for record in event["Records"]:
            file.write(json.dumps(record["dynamodb"]["Keys"]) + "\n")
    return {"batchItemFailures": []}
