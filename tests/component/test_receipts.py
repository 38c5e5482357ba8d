"""Receipts through the real handlers: markers that only move forward, pushed live, derived in history."""

import pytest

from tests.support.calls import (
    ack,
    connect,
    conversations,
    history,
    http_mark_read,
    send,
    start,
    sync_all,
    ws_mark_read,
)

pytestmark = pytest.mark.component


def statuses(user, conversation_id):
    return [(m["seq"], m["status"]) for m in reversed(history(user, conversation_id)[1]["messages"])]


def receipts(backend, connection_id):
    return [(f["data"]["user_id"], f["data"]["status"], f["data"]["up_to_seq"]) for f in backend.frames(connection_id)
            if f["type"] == "receipt"]


def test_receipts_flow_sent_delivered_read_live_and_in_history(backend, streams):
    conversation_id = start("alice", "bob")
    connect("alice", "alice-phone")
    connect("bob", "bob-phone")
    connect("bob", "bob-laptop")
    first = send("alice", conversation_id, "one", "1")[1]["message"]
    second = send("alice", conversation_id, "two", "2")[1]["message"]
    streams.drain()
    assert statuses("alice", conversation_id) == [(1, "sent"), (2, "sent")]
    assert conversations("bob")[1]["conversations"][0]["unread_count"] == 2

    assert ack("bob", "bob-phone", conversation_id, first["id"]) is None  # no answer on success
    assert receipts(backend, "alice-phone") == [("bob", "delivered", 1)]
    assert statuses("alice", conversation_id) == [(1, "delivered"), (2, "sent")]

    status, body = http_mark_read("bob", conversation_id, second["id"])
    assert status == 200 and body["conversation"]["unread_count"] == 0
    assert receipts(backend, "alice-phone") == [("bob", "delivered", 1), ("bob", "read", 2)]
    assert statuses("alice", conversation_id) == [(1, "read"), (2, "read")]
    assert statuses("bob", conversation_id) == [(1, "read"), (2, "read")]
    # Bob's own devices learn he read it (so their badges clear).
    assert receipts(backend, "bob-laptop") == [("bob", "read", 2)]

    # Markers never go back: an older ack or read changes nothing and pushes nothing.
    ack("bob", "bob-phone", conversation_id, first["id"])
    ws_mark_read("bob", "bob-phone", conversation_id, first["id"])
    assert statuses("alice", conversation_id) == [(1, "read"), (2, "read")]
    assert len(receipts(backend, "alice-phone")) == 2

    streams.drain()
    events, _ = sync_all("alice")
    assert [(e["type"], e["data"].get("status")) for e in events] == [
        ("new_message", None), ("new_message", None), ("receipt", "delivered"), ("receipt", "read"),
    ]
    bob_events, _ = sync_all("bob")
    assert ("receipt", "bob", "read") in [(e["type"], e["data"].get("user_id"), e["data"].get("status")) for e in bob_events]


def test_a_read_over_the_socket_without_a_message_id_reads_up_to_the_latest(backend, streams):
    conversation_id = start("alice", "bob")
    connect("alice", "alice-phone")
    for i in range(3):
        send("alice", conversation_id, f"m{i}", f"c{i}")
    streams.drain()
    assert ws_mark_read("bob", "bob-phone", conversation_id) is None
    assert receipts(backend, "alice-phone") == [("bob", "read", 3)]
    assert conversations("bob")[1]["conversations"][0]["unread_count"] == 0


def test_a_reply_marks_everything_before_it_read(backend, streams):
    conversation_id = start("alice", "bob")
    send("alice", conversation_id, "question", "q")
    send("bob", conversation_id, "answer", "a")
    streams.drain()
    assert statuses("alice", conversation_id) == [(1, "read"), (2, "delivered")]


def test_a_reply_marks_everything_before_it_read_when_the_other_answers_before_the_consumer_runs(backend, streams):
    """alice's row moved past bob's reply (her own next message) before the consumer brought the reply."""
    conversation_id = start("alice", "bob")
    send("alice", conversation_id, "question", "q")
    send("bob", conversation_id, "answer", "a")
    send("alice", conversation_id, "thanks", "t")
    streams.drain()
    assert statuses("alice", conversation_id) == [(1, "read"), (2, "read"), (3, "sent")]
    assert statuses("bob", conversation_id) == [(1, "read"), (2, "read"), (3, "delivered")]
    events, _ = sync_all("alice")  # alice's other devices learn it too
    assert ("receipt", "bob", "read", 1) in [
        (e["type"], e["data"].get("user_id"), e["data"].get("status"), e["data"].get("up_to_seq")) for e in events
    ]


def test_acking_beyond_the_latest_or_ones_own_messages_changes_nothing(backend, streams):
    conversation_id = start("alice", "bob")
    connect("alice", "alice-phone")
    send("alice", conversation_id, "hi")
    streams.drain()
    ack("bob", "bob-phone", conversation_id, f"{conversation_id}.5")
    http_mark_read("bob", conversation_id, f"{conversation_id}.9")
    assert statuses("alice", conversation_id) == [(1, "sent")]
    assert receipts(backend, "alice-phone") == []


def test_outsiders_can_neither_ack_nor_read_a_conversation_that_is_not_theirs(backend, streams):
    conversation_id = start("alice", "bob")
    connect("alice", "alice-phone")
    message = send("alice", conversation_id, "private")[1]["message"]
    streams.drain()
    frame = ack("mallory", "mallory-phone", conversation_id, message["id"])
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "conversation_not_found"
    frame = ws_mark_read("mallory", "mallory-phone", conversation_id, message["id"])
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "conversation_not_found"
    status, body = http_mark_read("mallory", conversation_id)
    assert status == 404 and body["error"]["code"] == "conversation_not_found"
    assert statuses("alice", conversation_id) == [(1, "sent")]
    assert receipts(backend, "alice-phone") == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"conversation_id": 5, "message_id": "x"},
        {"conversation_id": "dm_" + "0" * 32, "message_id": None},
        {"conversation_id": "dm_" + "0" * 32, "message_id": "dm_" + "0" * 32 + ".01"},
        {"conversation_id": "dm_" + "0" * 32, "message_id": ["x"]},
    ],
)
def test_bad_acks_get_error_frames(backend, body):
    from functions import ws_ack
    from tests.support.events import ws_event
    import json

    response = ws_ack.handler(ws_event("ack", connection_id="c", user_id="alice", body={"action": "ack"} | body), None)
    frame = json.loads(response["body"])
    assert frame["type"] == "error" and frame["data"]["error"]["code"] in ("bad_request", "conversation_not_found")


def test_an_ack_for_a_message_of_another_conversation_is_a_400(backend):
    mine = start("alice", "bob")
    other = start("carol", "dave")
    send("carol", other, "theirs")
    frame = ack("alice", "alice-phone", mine, f"{other}.1")
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "bad_request"


def test_a_read_that_moves_only_the_peers_row_is_pushed_to_the_peers_devices_alone(backend, streams):
    """The sender's own row is read up to its send already: reading it moves only the peer's (one user's
    connections, read by GetItem: the read routes need that grant as much as BatchGetItem)."""
    connect("alice", "alice-phone")
    for peer, read in (("bob", lambda c: http_mark_read("alice", c)[0]), ("carol", lambda c: ws_mark_read("alice", "alice-phone", c))):
        conversation_id = start("alice", peer)
        connect(peer, f"{peer}-phone")
        send("alice", conversation_id, "hi", f"to-{peer}")
        streams.drain()
        assert read(conversation_id) in (200, None)
        assert receipts(backend, f"{peer}-phone") == [("alice", "read", 1)]
    assert receipts(backend, "alice-phone") == []
