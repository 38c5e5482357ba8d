"""The HTTP and WebSocket adapters: errors become the contract's shapes, crashes become 500s."""

import json

import pytest

from shared.errors import ConflictError, RateLimitedError
from shared.http import http_endpoint
from shared.ws import ws_endpoint
from tests.support.events import http_event, parse, ws_event

pytestmark = pytest.mark.unit


@http_endpoint
def echo(request):
    return 200, {"user": request.user_id, "body": request.json_body()}


def test_the_caller_comes_from_the_authorizer_context():
    status, body = parse(echo(http_event("send_message", user_id="alice", body={"a": 1}), None))
    assert (status, body) == (200, {"user": "alice", "body": {"a": 1}})


def test_no_user_in_the_authorizer_context_is_a_401_with_the_reason():
    status, body = parse(echo(http_event("send_message", user_id=None, auth_error="token expired"), None))
    assert status == 401
    assert body == {"error": {"code": "unauthorized", "message": "token expired"}}


@pytest.mark.parametrize("raw, status", [("{", 400), ("[1]", 400), ("", 400), ('{"a":"' + "x" * 70000 + '"}', 413)])
def test_bad_bodies(raw, status):
    got, body = parse(echo(http_event("send_message", user_id="alice", body=raw), None))
    assert got == status and body["error"]["code"] in ("bad_request", "payload_too_large")


def test_domain_errors_keep_their_status_and_code():
    @http_endpoint
    def conflict(request):
        raise ConflictError("taken")

    @http_endpoint
    def limited(request):
        raise RateLimitedError("slow down", retry_after_seconds=7)

    assert parse(conflict(http_event("send_message", user_id="a"), None)) == (
        409,
        {"error": {"code": "conflict", "message": "taken"}},
    )
    response = limited(http_event("send_message", user_id="a"), None)
    assert response["statusCode"] == 429 and response["headers"]["retry-after"] == "7"


def test_a_crash_is_a_500_that_leaks_nothing():
    @http_endpoint
    def crash(request):
        raise KeyError("secret internals")

    status, body = parse(crash(http_event("send_message", user_id="a"), None))
    assert status == 500 and "secret" not in json.dumps(body)


@ws_endpoint
def ws_echo(request):
    if request.body.get("crash"):
        raise RuntimeError("boom")
    return {"type": "echo", "user": request.user_id}


def test_ws_errors_are_frames_that_echo_the_action_and_client_message_id():
    response = ws_echo(ws_event("x", connection_id="c1", user_id="alice", body="not json"), None)
    assert response["statusCode"] == 200
    frame = json.loads(response["body"])
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "bad_request"

    crashed = ws_echo(
        ws_event("x", connection_id="c1", user_id="alice", body={"action": "x", "crash": 1, "client_message_id": "m1"}),
        None,
    )
    frame = json.loads(crashed["body"])
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "internal_error"
    assert frame["data"]["action"] == "x" and frame["data"]["client_message_id"] == "m1"


def test_ws_without_authorizer_context_is_refused():
    frame = json.loads(ws_echo(ws_event("x", connection_id="c1", user_id=None, body={}), None)["body"])
    assert frame["data"]["error"]["code"] == "unauthorized"
