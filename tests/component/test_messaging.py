"""Sending and reading messages through the real handlers: storage, idempotency, delivery, limits."""

import json
import threading

import pytest
import redis

from functions import list_conversations, list_messages, send_message, start_conversation, ws_connect, ws_send_message
from shared.storage.tables import MessageRecord, SentMessageRecord
from tests.support.events import http_event, parse, ws_event

pytestmark = pytest.mark.component


def start(user, peer) -> str:
    event = http_event("start_conversation", user_id=user, path={"id": peer})
    return parse(start_conversation.handler(event, None))[1]["conversation"]["id"]


def send(user, conversation_id, content="hello", client_message_id="m1", **extra):
    body = {"client_message_id": client_message_id, "type": "text", "content": content} | extra
    event = http_event("send_message", user_id=user, path={"id": conversation_id}, body=body)
    return parse(send_message.handler(event, None))


def history(user, conversation_id, **query):
    event = http_event("list_messages", user_id=user, path={"id": conversation_id}, query=query or None)
    return parse(list_messages.handler(event, None))


def connect(user, connection_id):
    assert ws_connect.handler(ws_event("$connect", connection_id=connection_id, user_id=user), None)["statusCode"] == 200


def test_a_sent_message_is_stored_and_listed(backend, streams):
    conversation_id = start("alice", "bob")
    status, body = send("alice", conversation_id, "hi bob")
    assert status == 201
    message = body["message"]
    assert message["sender_id"] == "alice" and message["content"] == "hi bob" and message["status"] == "sent"
    assert message["id"] == f"{conversation_id}.1" and message["seq"] == 1
    # The recipient sees it delivered (their device has it); the sender sees it sent.
    assert history("bob", conversation_id)[1] == {"messages": [message | {"status": "delivered"}], "next_cursor": None}
    assert history("alice", conversation_id)[1]["messages"] == [message]
    streams.drain()  # the recipient's row is moved by the on_message_stored consumer
    row = parse(list_conversations.handler(http_event("list_conversations", user_id="bob"), None))[1]["conversations"][0]
    assert row["last_message"]["preview"] == "hi bob" and row["last_activity_at"] == message["created_at"]


def test_a_retried_send_returns_the_same_message_and_stores_one(backend):
    conversation_id = start("alice", "bob")
    first_status, first = send("alice", conversation_id, client_message_id="retry-me")
    second_status, second = send("alice", conversation_id, client_message_id="retry-me")
    assert (first_status, second_status) == (201, 200)
    assert first == second
    assert len(history("alice", conversation_id)[1]["messages"]) == 1


def test_concurrent_retries_store_exactly_one_message(backend):
    conversation_id = start("alice", "bob")
    results = []

    def attempt():
        results.append(send("alice", conversation_id, client_message_id="same"))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200] * 7 + [201]
    assert len({body["message"]["id"] for _, body in results}) == 1
    assert MessageRecord.count(conversation_id) == 1


def test_reusing_a_client_message_id_for_other_content_is_a_409(backend):
    conversation_id = start("alice", "bob")
    send("alice", conversation_id, "one", client_message_id="k")
    status, body = send("alice", conversation_id, "two", client_message_id="k")
    assert status == 409 and body["error"]["code"] == "conflict"
    assert [m["content"] for m in history("alice", conversation_id)[1]["messages"]] == ["one"]


def test_the_same_client_message_id_from_two_senders_is_two_messages(backend):
    conversation_id = start("alice", "bob")
    assert send("alice", conversation_id, "a", client_message_id="k")[0] == 201
    assert send("bob", conversation_id, "b", client_message_id="k")[0] == 201


def test_outsiders_can_neither_send_nor_read_and_nothing_is_written(backend):
    conversation_id = start("alice", "bob")
    send("alice", conversation_id, "private")
    status, body = send("mallory", conversation_id, "let me in", client_message_id="x")
    assert status == 404 and body["error"]["code"] == "conversation_not_found"
    assert history("mallory", conversation_id)[0] == 404
    assert SentMessageRecord.count("mallory") == 0
    assert [m["content"] for m in history("alice", conversation_id)[1]["messages"]] == ["private"]


def test_bad_input_is_a_400_and_writes_nothing(backend):
    conversation_id = start("alice", "bob")
    assert send("alice", conversation_id, "x" * 4097)[0] == 400
    assert send("alice", conversation_id, "")[0] == 400
    assert send("alice", conversation_id, "hi", client_message_id="")[0] == 400
    assert send("alice", "not-a-conversation", "hi")[0] == 404
    assert MessageRecord.count(conversation_id) == 0 and SentMessageRecord.count("alice") == 0


def test_history_pages_newest_first_without_gaps_or_repeats_while_messages_arrive(backend):
    conversation_id = start("alice", "bob")
    for i in range(120):
        send("alice" if i % 2 else "bob", conversation_id, f"m{i}", client_message_id=f"c{i}")
    status, page = history("bob", conversation_id)
    assert status == 200 and len(page["messages"]) == 50  # the default page
    seen = [m["content"] for m in page["messages"]]
    cursor = page["next_cursor"]
    send("alice", conversation_id, "arrived while paging", client_message_id="late")
    while cursor:
        page = history("bob", conversation_id, cursor=cursor)[1]
        seen += [m["content"] for m in page["messages"]]
        cursor = page["next_cursor"]
    assert seen == [f"m{i}" for i in reversed(range(120))]
    assert history("bob", conversation_id, limit="1")[1]["messages"][0]["content"] == "arrived while paging"


def test_history_rejects_bad_paging_input(backend):
    conversation_id = start("alice", "bob")
    assert history("alice", conversation_id, limit="0")[0] == 400
    assert history("alice", conversation_id, limit="1000")[0] == 400
    assert history("alice", conversation_id, cursor="garbage")[0] == 400


def test_a_send_is_pushed_to_the_recipient_and_the_senders_other_devices(backend):
    conversation_id = start("alice", "bob")
    connect("alice", "alice-phone")
    connect("alice", "alice-laptop")
    connect("bob", "bob-phone")
    connect("carol", "carol-phone")
    event = ws_event(
        "sendMessage",
        connection_id="alice-phone",
        user_id="alice",
        body={"action": "sendMessage", "conversation_id": conversation_id, "client_message_id": "w1", "content": "yo"},
    )
    ack = json.loads(ws_send_message.handler(event, None)["body"])
    assert ack["type"] == "message_ack" and ack["data"]["message"]["content"] == "yo"
    assert ack["data"]["message"]["status"] == "sent" and ack["data"]["client_message_id"] == "w1"

    for connection_id in ("bob-phone", "alice-laptop"):
        frames = [f for f in backend.frames(connection_id) if f["type"] != "presence"]  # bob came online, too
        assert [f["type"] for f in frames] == ["new_message"]
        assert frames[0]["data"]["message"] == ack["data"]["message"]
        assert frames[0]["conversation_id"] == conversation_id and frames[0]["channel"] == "messaging"
    assert [f["type"] for f in backend.frames("alice-phone")] == ["presence"]  # the ack instead of an echo
    assert backend.frames("carol-phone") == []


def test_a_connection_that_answers_410_is_forgotten(backend):
    conversation_id = start("alice", "bob")
    connect("bob", "bob-old")
    connect("bob", "bob-new")
    backend.gone.add("bob-old")
    send("alice", conversation_id, "first", client_message_id="1")
    send("alice", conversation_id, "second", client_message_id="2")
    assert [f["data"]["message"]["content"] for f in backend.frames("bob-new")] == ["first", "second"]
    from shared.storage.tables import ConnectionRecord

    assert set(ConnectionRecord.get("bob").connections.as_dict()) == {"bob-new"}


def test_sends_over_the_rate_limit_get_429_and_are_not_stored(backend, monkeypatch):
    monkeypatch.setenv("SEND_RATE_LIMIT_PER_MINUTE", "3")
    from tests.component.conftest import reset_wiring

    reset_wiring()
    conversation_id = start("alice", "bob")
    statuses = [send("alice", conversation_id, f"m{i}", client_message_id=f"c{i}")[0] for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    assert MessageRecord.count(conversation_id) == 3
    assert send("bob", conversation_id, "bob is not limited by alice")[0] == 201


def test_sends_still_work_when_redis_is_down(backend, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    from tests.component.conftest import reset_wiring

    reset_wiring()
    conversation_id = start("alice", "bob")
    assert send("alice", conversation_id, "still here")[0] == 201
    assert history("bob", conversation_id)[1]["messages"][0]["content"] == "still here"


def test_the_rate_limit_counts_live_in_redis(backend, redis_url):
    conversation_id = start("alice", "bob")
    send("alice", conversation_id)
    keys = redis.Redis.from_url(redis_url).keys("ratelimit:send:alice:*")
    assert len(keys) == 1
