"""Offline sync through the real handlers: the per-user event log, paged, exactly-once in order, retained."""

import json

import pytest

from shared.domain import limits
from shared.storage.cursors import encode_cursor
from shared.domain.timefmt import now_ms
from tests.support.calls import send, start, sync, sync_all, ws_sync_frame

pytestmark = pytest.mark.component


def test_a_user_who_was_away_syncs_every_message_once_in_order_across_pages(backend, streams, no_rate_limit):
    conversation_id = start("alice", "bob")
    _, cursor = sync_all("bob")  # bob's position before he went away
    for i in range(150):
        assert send("alice", conversation_id, f"m{i}", f"c{i}")[0] == 201
    streams.drain()
    pages, since = [], cursor
    while True:
        status, page = sync("bob", since, 60)
        assert status == 200 and len(page["events"]) <= 60
        pages.append(page["events"])
        since = page["next_cursor"]
        if not page["has_more"]:
            break
    assert [len(p) for p in pages] == [60, 60, 30]
    events = [e for page in pages for e in page]
    assert [e["data"]["message"]["content"] for e in events] == [f"m{i}" for i in range(150)]
    assert [e["id"] for e in events] == [f"msg:{conversation_id}:{n}" for n in range(1, 151)]
    assert all(e["type"] == "new_message" and e["conversation_id"] == conversation_id for e in events)
    # Caught up: nothing more, and the cursor still works.
    status, page = sync("bob", since)
    assert status == 200 and page["events"] == [] and page["has_more"] is False


def test_the_live_push_and_the_synced_event_are_the_same_envelope(backend, streams):
    from tests.support.calls import connect

    conversation_id = start("alice", "bob")
    connect("bob", "bob-phone")
    send("alice", conversation_id, "hi")
    streams.drain()
    pushed = backend.frames("bob-phone")[0]
    synced = sync_all("bob")[0][0]
    assert {k: v for k, v in synced.items() if k != "timestamp"} == {k: v for k, v in pushed.items() if k != "timestamp"}


def test_pages_stay_under_the_frame_limit(backend, streams):
    conversation_id = start("alice", "bob")
    for i in range(40):
        send("alice", conversation_id, f"{i:02d}" + "é" * 4000, f"c{i}")
    streams.drain()
    frame = ws_sync_frame("bob", "bob-phone", limit=500)
    assert frame["type"] == "sync" and frame["data"]["has_more"] is True
    assert len(json.dumps(frame, ensure_ascii=False).encode()) < limits.WS_MAX_FRAME_BYTES
    seen = [e["data"]["message"]["content"][:2] for e in frame["data"]["events"]]
    since = frame["data"]["next_cursor"]
    while True:
        frame = ws_sync_frame("bob", "bob-phone", since=since, limit=500)
        assert len(json.dumps(frame, ensure_ascii=False).encode()) < limits.WS_MAX_FRAME_BYTES
        seen += [e["data"]["message"]["content"][:2] for e in frame["data"]["events"]]
        since = frame["data"]["next_cursor"]
        if not frame["data"]["has_more"]:
            break
    assert seen == [f"{i:02d}" for i in range(40)]


def test_a_cursor_older_than_the_retention_gets_resync_required(backend, streams):
    old = encode_cursor({"s": "0", "t": str(now_ms() - limits.EVENT_RETENTION_SECONDS * 1000 - 1000)})
    status, body = sync("bob", old)
    assert status == 410 and body["error"]["code"] == "resync_required"
    frame = ws_sync_frame("bob", "bob-phone", since=old)
    assert frame["type"] == "error" and frame["data"]["error"]["code"] == "resync_required"
    young = encode_cursor({"s": "0", "t": str(now_ms() - 1000)})
    assert sync("bob", young)[0] == 200


@pytest.mark.parametrize("since", ["garbage", encode_cursor({"s": "x", "t": "1"}), encode_cursor({"a": "1"})])
def test_a_malformed_cursor_is_a_400(backend, since):
    status, body = sync("bob", since)
    assert status == 400 and body["error"]["code"] == "bad_request"


@pytest.mark.parametrize("limit", ["0", "501", "-1", "x"])
def test_a_bad_limit_is_a_400(backend, limit):
    assert sync("bob", None, limit)[0] == 400


def test_nobody_can_sync_another_users_events(backend, streams):
    conversation_id = start("alice", "bob")
    send("alice", conversation_id, "for bob only")
    streams.drain()
    _, bobs_cursor = sync_all("bob")
    # Mallory's log is her own, whatever cursor she brings.
    assert sync_all("mallory")[0] == []
    status, page = sync("mallory", bobs_cursor)
    assert status == 200 and page["events"] == []
    zero = encode_cursor({"s": "0", "t": str(now_ms())})
    assert sync("mallory", zero)[1]["events"] == []
