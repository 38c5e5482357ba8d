"""The spine through the real handlers: gap-free seqs, read-your-writes, the consumers, the event log."""

import threading

import pytest

from shared.storage.repositories.messages import MessageRepository
from shared.storage.tables import EventRecord, UserConversationRecord
from tests.support.calls import conversations, history, send, start, sync_all

pytestmark = pytest.mark.component


def log_of(user):
    return [(int(r.seq), r.event_id) for r in EventRecord.query(user, consistent_read=True)]


def test_messages_get_gap_free_seqs_and_ids_derived_from_them(backend):
    conversation_id = start("alice", "bob")
    bodies = [send("alice" if i % 2 else "bob", conversation_id, f"m{i}", f"c{i}")[1]["message"] for i in range(5)]
    assert [m["seq"] for m in bodies] == [1, 2, 3, 4, 5]
    assert [m["id"] for m in bodies] == [f"{conversation_id}.{n}" for n in range(1, 6)]


def test_concurrent_senders_in_one_conversation_get_distinct_consecutive_seqs(backend):
    conversation_id = start("alice", "bob")
    results = []

    def sender(user, i):
        results.append(send(user, conversation_id, f"{user}{i}", f"{user}-{i}"))

    # Two users with four devices each, all sending at once.
    threads = [threading.Thread(target=sender, args=(user, i)) for i in range(4) for user in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [201] * 8
    assert sorted(body["message"]["seq"] for _, body in results) == list(range(1, 9))


def test_the_senders_list_moves_at_once_and_the_recipients_when_the_consumer_ran(backend, streams):
    conversation_id = start("alice", "bob")
    message = send("alice", conversation_id, "hi")[1]["message"]
    # Read-your-writes: the sender's row moved in the send's own transaction.
    mine = conversations("alice")[1]["conversations"][0]
    assert mine["last_message"]["id"] == message["id"] and mine["unread_count"] == 0
    assert mine["last_activity_at"] == message["created_at"]
    streams.drain()
    theirs = conversations("bob")[1]["conversations"][0]
    assert theirs["last_message"]["preview"] == "hi" and theirs["unread_count"] == 1


def test_a_late_commit_is_never_skipped_by_sync(backend, streams, monkeypatch):
    """Alice's send guesses seq 1 and stalls before its transaction; Bob's commits seq 1 meanwhile. Alice's
    then commits as seq 2: after Bob's, in order, and a sync cursor taken in between still finds it."""
    conversation_id = start("alice", "bob")
    stalled, release = threading.Event(), threading.Event()
    original = MessageRepository.store

    def store(self, message):
        if message.content == "slow" and not release.is_set():
            stalled.set()
            release.wait(10)
        return original(self, message)

    monkeypatch.setattr(MessageRepository, "store", store)
    results = {}
    slow = threading.Thread(target=lambda: results.update(slow=send("alice", conversation_id, "slow", "s")))
    slow.start()
    assert stalled.wait(10)
    fast = send("bob", conversation_id, "fast", "f")[1]["message"]
    streams.drain()
    events, cursor = sync_all("alice")
    assert [e["data"]["message"]["content"] for e in events] == ["fast"]
    release.set()
    slow.join(10)
    late = results["slow"][1]["message"]
    assert (fast["seq"], late["seq"]) == (1, 2)
    streams.drain()
    events, _ = sync_all("alice", since=cursor)
    assert [e["data"]["message"]["id"] for e in events] == [late["id"]]


def test_a_consumer_that_fails_once_is_retried_and_the_log_has_each_event_once(backend, streams, monkeypatch):
    conversation_id = start("alice", "bob")
    for i in range(3):
        send("alice", conversation_id, f"m{i}", f"c{i}")
    original_save = EventRecord.save
    failures = []

    def save_then_fail_once(self, *args, **kwargs):
        result = original_save(self, *args, **kwargs)
        if not failures:
            failures.append(self.event_id)
            raise RuntimeError("the function timed out after the write")  # written, but not acknowledged
        return result

    monkeypatch.setattr(EventRecord, "save", save_then_fail_once)
    streams.drain()
    assert failures  # it did fail once, and the batch resumed from the failed record
    for user in ("alice", "bob"):
        log = log_of(user)
        assert [seq for seq, _ in log] == list(range(1, len(log) + 1))  # gap-free
        assert len({event_id for _, event_id in log}) == len(log)  # each event once
        messages = [event_id for _, event_id in log if event_id.startswith("msg:")]
        assert messages == [f"msg:{conversation_id}:{n}" for n in (1, 2, 3)]


def test_a_redelivered_batch_changes_nothing(backend, streams):
    from functions import append_user_events, on_message_stored

    conversation_id = start("alice", "bob")
    send("alice", conversation_id, "once")
    seen = {}

    def twice(name, handler):
        def deliver(event, context):
            seen.setdefault(name, []).append(len(event["Records"]))
            handler(event, context)
            return handler(event, context)  # Lambda may deliver a batch again

        return deliver

    streams.drain(
        handlers={
            "on_message_stored": twice("on_message_stored", on_message_stored.handler),
            "append_user_events": twice("append_user_events", append_user_events.handler),
        }
    )
    assert seen["on_message_stored"] and seen["append_user_events"]
    assert [e for _, e in log_of("bob")] == [f"msg:{conversation_id}:1"]
    assert [e for _, e in log_of("alice")] == [f"msg:{conversation_id}:1"]
    assert UserConversationRecord.get("bob", conversation_id).last_seq == 1


def test_an_out_of_date_message_record_does_not_move_the_row_back(backend, streams):
    conversation_id = start("alice", "bob")
    send("alice", conversation_id, "one", "1")
    send("alice", conversation_id, "two", "2")
    streams.drain()
    from functions import on_message_stored
    from tests.support.events import stream_record

    old = {"conversation_id": {"S": conversation_id}, "seq": {"N": "1"}}
    image = old | {"sender_id": {"S": "alice"}, "client_message_id": {"S": "1"}, "type": {"S": "text"},
                   "content": {"S": "one"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"}}
    assert on_message_stored.handler({"Records": [stream_record("INSERT", keys=old, new=image)]}, None) == {
        "batchItemFailures": []
    }
    assert conversations("bob")[1]["conversations"][0]["last_message"]["preview"] == "two"


def test_history_pages_by_seq_with_opaque_cursors(backend):
    conversation_id = start("alice", "bob")
    for i in range(7):
        send("alice", conversation_id, f"m{i}", f"c{i}")
    seen, cursor = [], None
    while True:
        status, page = history("bob", conversation_id, limit="3", **({"cursor": cursor} if cursor else {}))
        assert status == 200
        seen += [m["seq"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_a_connection_whose_disconnect_never_came_is_skipped_and_dropped(backend):
    from datetime import datetime, timezone

    from shared.storage.tables import ConnectionRecord
    from tests.support.calls import connect

    conversation_id = start("alice", "bob")
    connect("bob", "bob-live")
    # A connection from hours ago whose $disconnect was lost: past its expiry, never answered 410.
    lapsed = {"connected_at": 1, "expires_at": int(datetime.now(timezone.utc).timestamp()) - 60}
    ConnectionRecord("bob").update(actions=[ConnectionRecord.connections["bob-lapsed"].set(lapsed)])
    send("alice", conversation_id, "hi")
    assert [f["type"] for f in backend.frames("bob-live")] == ["new_message"]
    assert backend.frames("bob-lapsed") == []
    assert set(ConnectionRecord.get("bob", consistent_read=True).connections.as_dict()) == {"bob-live"}
