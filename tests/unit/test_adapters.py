"""The HTTP and WebSocket adapters: errors become the contract's shapes, crashes become 500s."""

import json

import pytest

from shared.domain import limits
from shared.domain.errors import BadRequestError, ConflictError, RateLimitedError
from shared.adapters.http import http_endpoint
from shared.adapters.ws import error_frame, ws_endpoint
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


DEEP_JSON = '{"a":' + "[" * 30000 + "]" * 30000 + "}"  # under both size limits, deeper than any parser's stack


@pytest.mark.parametrize(
    "raw",
    [
        DEEP_JSON,
        '{"a":' + "[" * (limits.MAX_JSON_DEPTH + 1) + "]" * (limits.MAX_JSON_DEPTH + 1) + "}",
        '{"content":"\\ud800"}',
        '{"\\udfff":1}',
        '{"a":["x",{"b":"\\ud83d"}]}',
        '{"a":NaN}',
        '{"a":-Infinity}',
    ],
    ids=["deeper than the stack", "deeper than the limit", "lone surrogate", "surrogate key", "nested surrogate", "NaN", "Infinity"],
)
def test_bodies_that_json_loads_may_accept_or_crash_on_are_a_400_over_http_and_an_error_frame_over_ws(raw):
    status, body = parse(echo(http_event("send_message", user_id="alice", body=raw), None))
    assert (status, body["error"]["code"]) == (400, "bad_request")
    frame = json.loads(ws_echo(ws_event("x", connection_id="c1", user_id="alice", body=raw), None)["body"])
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "bad_request"


def test_a_body_nested_to_the_limit_is_accepted():
    depth = limits.MAX_JSON_DEPTH - 1
    raw = '{"a":' + "[" * depth + "]" * depth + "}"
    assert parse(echo(http_event("send_message", user_id="alice", body=raw), None))[0] == 200


def test_an_error_frame_never_echoes_text_that_cannot_go_out_as_utf8():
    @ws_endpoint
    def unknown(request):
        raise BadRequestError("no such action")

    frame = error_frame(BadRequestError("no"), {"action": "\ud800", "client_message_id": "m1"})
    assert "action" not in frame["data"] and frame["data"]["client_message_id"] == "m1"
    response = unknown(ws_event("x", connection_id="c1", user_id="alice", body={"action": "ok"}), None)
    response["body"].encode("utf-8")  # what the runtime sends: must be valid UTF-8


def test_any_output_is_valid_utf8_json_even_with_a_lone_surrogate_inside():
    @http_endpoint
    def leaky(request):
        return 200, {"text": "\udc80"}

    response = leaky(http_event("send_message", user_id="a"), None)
    assert json.loads(response["body"].encode("utf-8")) == {"text": "\udc80"}


@pytest.mark.parametrize(
    "path, query",
    [({"id": "bob\ufffd"}, None), (None, {"cursor": "x\ufffd"}), ({"id": "\ud800"}, None)],
    ids=["path decoded with a replacement character", "query likewise", "lone surrogate"],
)
def test_parameters_that_lost_bytes_in_decoding_are_a_400(path, query):
    @http_endpoint
    def reached(request):
        return 200, {}

    status, body = parse(reached(http_event("send_message", user_id="alice", path=path, query=query), None))
    assert (status, body["error"]["code"]) == (400, "bad_request")
