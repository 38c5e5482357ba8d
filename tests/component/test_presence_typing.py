"""Typing and presence through the real handlers, a real Redis and a recording management API."""

import time

import pytest

from shared import wiring

from shared.domain import limits
from shared.realtime.presence import HEARTBEATS_KEY
from tests.support.calls import (
    connect,
    disconnect,
    http_typing,
    ping,
    presence,
    presence_bulk,
    start,
    ws_typing_frame,
)

pytestmark = pytest.mark.component


def of_type(backend, connection_id, kind):
    return [f["data"] for f in backend.frames(connection_id) if f["type"] == kind]


def test_typing_reaches_the_peers_devices_only(backend):
    conversation_id = start("alice", "bob")
    connect("alice", "alice-phone")
    connect("bob", "bob-phone")
    connect("bob", "bob-laptop")
    assert ws_typing_frame("alice", "alice-phone", conversation_id, "start") is None  # no answer on success
    assert http_typing("alice", conversation_id, "stop") == (204, None)
    for device in ("bob-phone", "bob-laptop"):
        assert of_type(backend, device, "typing") == [
            {"user_id": "alice", "state": "start"},
            {"user_id": "alice", "state": "stop"},
        ]
    assert of_type(backend, "alice-phone", "typing") == []


def test_typing_is_refused_to_outsiders_and_bad_states(backend):
    conversation_id = start("alice", "bob")
    connect("bob", "bob-phone")
    frame = ws_typing_frame("mallory", "mallory-phone", conversation_id, "start")
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "conversation_not_found"
    assert http_typing("mallory", conversation_id, "start")[0] == 404
    frame = ws_typing_frame("alice", "alice-phone", conversation_id, "dancing")
    assert frame["data"]["error"]["code"] == "bad_request"
    assert of_type(backend, "bob-phone", "typing") == []


def _start_of_a_fresh_typing_window(needed_seconds: float = 6.0) -> None:
    window = limits.TYPING_WINDOW_SECONDS
    left = window - time.time() % window
    if left < needed_seconds:
        time.sleep(left + 0.05)


def test_typing_is_rate_limited_per_user_and_conversation(backend):
    conversation_id = start("alice", "bob")
    other = start("alice", "carol")
    _start_of_a_fresh_typing_window()  # 25 frames split across two windows would be refused fewer times
    answers = [ws_typing_frame("alice", "alice-phone", conversation_id, "start") for _ in range(25)]
    refused = [a for a in answers if a is not None]
    assert len(refused) == 5 and refused[0]["data"]["error"]["code"] == "rate_limited"
    assert ws_typing_frame("alice", "alice-phone", other, "start") is None  # another conversation: its own budget
    assert ws_typing_frame("bob", "bob-phone", conversation_id, "start") is None  # another user too


def test_presence_online_while_connected_offline_with_last_seen(backend):
    start("alice", "bob")
    connect("bob", "bob-phone")
    assert presence("bob", "alice")[1]["presence"] == {"user_id": "alice", "status": "offline", "last_seen": None}

    connect("alice", "alice-phone")
    connect("alice", "alice-laptop")
    assert of_type(backend, "bob-phone", "presence") == [{"user_id": "alice", "status": "online", "last_seen": None}]
    assert presence("bob", "alice")[1]["presence"]["status"] == "online"

    disconnect("alice", "alice-phone")  # one device left: still online, nothing pushed
    assert presence("bob", "alice")[1]["presence"]["status"] == "online"
    assert len(of_type(backend, "bob-phone", "presence")) == 1

    disconnect("alice", "alice-laptop")
    pushed = of_type(backend, "bob-phone", "presence")[-1]
    assert pushed["status"] == "offline" and pushed["last_seen"]
    assert presence("bob", "alice")[1]["presence"] == pushed  # durable: read back from the table


def test_presence_lapses_without_heartbeat_and_comes_back_on_ping(backend, monkeypatch):
    monkeypatch.setenv("PRESENCE_TTL_SECONDS", "1")
    wiring.reset()
    start("alice", "bob")
    connect("bob", "bob-phone")
    connect("alice", "alice-phone")  # then the device vanishes: no ping, no $disconnect
    time.sleep(1.2)
    from functions import presence_sweeper

    assert presence_sweeper.handler({"source": "aws.events"}, None) == {"offline": 2}  # bob never pinged either
    last = of_type(backend, "bob-phone", "presence")[-1]
    assert last["user_id"] == "alice" and last["status"] == "offline" and last["last_seen"]
    assert presence("bob", "alice")[1]["presence"]["status"] == "offline"

    assert ping("alice", "alice-phone")["type"] == "pong"
    assert of_type(backend, "bob-phone", "presence")[-1]["status"] == "online"
    assert presence("bob", "alice")[1]["presence"]["status"] == "online"
    assert ping("alice", "alice-phone")["type"] == "pong"  # a fresh heartbeat pushes nothing
    assert [p["status"] for p in of_type(backend, "bob-phone", "presence") if p["user_id"] == "alice"][-2:] == [
        "offline",
        "online",
    ]


def test_presence_is_visible_only_to_people_who_share_a_conversation(backend):
    start("alice", "bob")
    connect("alice", "alice-phone")
    status, body = presence("mallory", "alice")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert presence("mallory", "nobody-at-all")[1] == body  # the same answer as a user who doesn't exist
    assert presence("alice", "alice")[1]["presence"]["status"] == "online"  # oneself
    status, body = presence_bulk("bob", "alice,mallory,bob,alice")
    assert status == 200 and [p["user_id"] for p in body["presence"]] == ["alice", "bob"]
    assert presence_bulk("bob", ",".join(f"u{i}" for i in range(51)))[0] == 400
    assert presence_bulk("bob", "")[0] == 400
    assert presence_bulk("bob", "alice,\u0000")[0] == 400


def test_presence_and_typing_work_without_redis(backend, monkeypatch):
    monkeypatch.delenv("REDIS_URL")
    wiring.reset()
    conversation_id = start("alice", "bob")
    connect("bob", "bob-phone")
    connect("alice", "alice-phone")
    assert presence("bob", "alice")[1]["presence"]["status"] == "online"
    assert ws_typing_frame("alice", "alice-phone", conversation_id, "start") is None
    assert of_type(backend, "bob-phone", "typing") == [{"user_id": "alice", "state": "start"}]
    disconnect("alice", "alice-phone")
    assert presence("bob", "alice")[1]["presence"]["status"] == "offline"


def test_heartbeats_live_in_one_redis_key(backend, redis_url):
    import redis

    start("alice", "bob")
    connect("alice", "alice-phone")
    client = redis.Redis.from_url(redis_url)
    assert client.keys("presence*") == [HEARTBEATS_KEY.encode()]
    disconnect("alice", "alice-phone")
    assert client.zscore(HEARTBEATS_KEY, "alice") is None
