"""Every function is instrumented: correlated log lines and metrics written per invocation."""

from __future__ import annotations

import importlib
import io
import json

import pytest

from shared.domain.errors import StorageUnavailableError
from shared.log import logger
from shared.observability import identify, lambda_handler
from shared.routes import ROUTES
from shared.adapters.ws import WsRequest, ws_endpoint
from tests.support.events import ws_event

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_function_is_wrapped_by_lambda_handler(route):
    module = importlib.import_module(f"functions.{route.name}")
    assert getattr(module.handler, "parley_instrumented", False), (
        f"functions/{route.name}.py: wrap handler with shared.observability.lambda_handler (or an adapter)"
    )


@ws_endpoint
def _failing_send(request: WsRequest) -> dict:
    logger.warning("about to fail")
    raise StorageUnavailableError("storage is unavailable, retry shortly")


@pytest.fixture
def log_output():
    """What the function logger writes (it holds the stream it was created with: pytest's, not ours)."""
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    yield stream
    logger.registered_handler.setStream(previous)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_log_lines_carry_the_request_connection_route_user_and_cold_start(log_output):
    event = ws_event("sendMessage", connection_id="conn-1", user_id="alice", body={"action": "sendMessage"})
    for expected_cold_start in (True, False):
        frame = json.loads(_failing_send(event, None)["body"])
        assert frame["data"]["error"]["code"] == "unavailable"
        lines = _json_lines(log_output.getvalue())
        log_output.seek(0)
        log_output.truncate()
        assert [line["message"] for line in lines] == ["about to fail", "request failed"]
        for line in lines:
            assert line["correlation_id"] == event["requestContext"]["requestId"]
            assert line["connection_id"] == "conn-1" and line["route"] == "sendMessage"
            assert line["user_id"] == "alice" and line["cold_start"] is expected_cold_start
            assert line["function"] == "test_observability" and line["service"] == "parley"


@lambda_handler
def _logs_as(event, context):
    if event.get("user"):
        identify(event["user"])
    logger.warning("hello")


def test_keys_do_not_leak_into_the_next_invocation(log_output):
    _logs_as({"user": "alice", "requestContext": {"requestId": "r1", "connectionId": "c-a"}}, None)
    _logs_as({"requestContext": {"requestId": "r2"}}, None)
    first, second = _json_lines(log_output.getvalue())
    assert (first["user_id"], first["correlation_id"], first["connection_id"]) == ("alice", "r1", "c-a")
    assert second["correlation_id"] == "r2" and "user_id" not in second and "connection_id" not in second
