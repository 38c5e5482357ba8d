"""What an operator sees: the metrics each function writes (EMF lines on stdout), with real handlers."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

import pytest

from functions import http_authorizer, send_message, start_conversation, ws_authorizer, ws_connect, ws_send_message
from tests.support.events import http_event, parse, ws_event

pytestmark = pytest.mark.component


def emitted(capsys) -> Counter:
    """Metric name (with its api/code dimensions, if any) -> total written since the last call."""
    totals: Counter = Counter()
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Parley" and blob["service"] == "parley"
        for metric in directive["Metrics"]:
            name = metric["Name"]
            if "code" in blob:
                name = f"{name}[{blob['api']}:{blob['code']}]"
            values = blob[metric["Name"]]
            totals[name] += sum(values) if isinstance(values, list) else values
    return totals


def _start(user: str, peer: str) -> str:
    event = http_event("start_conversation", user_id=user, path={"id": peer})
    return parse(start_conversation.handler(event, None))[1]["conversation"]["id"]


def _ws_send(conversation_id: str, client_message_id: str, connection_id: str = "alice-phone") -> dict:
    body = {"action": "sendMessage", "conversation_id": conversation_id, "client_message_id": client_message_id,
            "type": "text", "content": "hi"}
    event = ws_event("sendMessage", connection_id=connection_id, user_id="alice", body=body)
    return json.loads(ws_send_message.handler(event, None)["body"])


def test_a_send_counts_the_stored_message_and_each_push_outcome(backend, capsys):
    conversation_id = _start("alice", "bob")
    for user, connection_id in (("alice", "alice-phone"), ("bob", "bob-phone"), ("bob", "bob-old")):
        ws_connect.handler(ws_event("$connect", connection_id=connection_id, user_id=user), None)
    backend.gone.add("bob-old")
    emitted(capsys)

    assert _ws_send(conversation_id, "m1")["type"] == "message_ack"
    assert emitted(capsys) == Counter({"MessagesStored": 1, "PushesSent": 1, "PushesGone": 1})
    assert _ws_send(conversation_id, "m1")["data"]["duplicate"] is True  # a retry
    assert emitted(capsys) == Counter({"DuplicateSends": 1, "PushesSent": 1})


def test_rate_limited_sends_and_their_429s_are_counted(backend, capsys, monkeypatch):
    monkeypatch.setenv("SEND_RATE_LIMIT_PER_MINUTE", "1")
    from tests.component.conftest import reset_wiring

    reset_wiring()
    conversation_id = _start("alice", "bob")
    for index in range(3):
        event = http_event("send_message", user_id="alice", path={"id": conversation_id},
                           body={"client_message_id": f"r{index}", "type": "text", "content": "x"})
        send_message.handler(event, None)
    assert emitted(capsys) == Counter(
        {"MessagesStored": 1, "RateLimitedSends": 2, "ErrorResponses[http:rate_limited]": 2}
    )


def test_authorizer_refusals_are_counted(backend, capsys):
    ws_authorizer.handler({"methodArn": "arn:x", "queryStringParameters": {"token": "nope"}}, None)
    http_authorizer.handler({"headers": {"authorization": "Bearer nope"}}, None)
    http_authorizer.handler({"headers": {}}, None)
    assert emitted(capsys) == Counter({"AuthorizerRefusals": 3})


def test_websocket_error_frames_are_counted_by_code_including_a_storage_outage(backend, capsys, moto_url):
    conversation_id = _start("alice", "bob")
    ws_connect.handler(ws_event("$connect", connection_id="alice-phone", user_id="alice"), None)
    assert _ws_send(conversation_id, "")["data"]["error"]["code"] == "bad_request"
    emitted_before_outage = emitted(capsys)
    assert emitted_before_outage["ErrorResponses[websocket:bad_request]"] == 1

    # The tables vanish (as far as the functions can tell, storage is down): the frame says
    # `unavailable`, the route still answers 200, and the metric the stack alarms on counts it.
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
    frame = _ws_send(conversation_id, "m2")
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "unavailable"
    assert emitted(capsys)["ErrorResponses[websocket:unavailable]"] == 1
