"""The read caches (shared/storage/repositories/read_cache.py) with the real handlers, a real Redis and moto: a cached
history or list is served without DynamoDB's Query, every write path invalidates what it changes, a fill
racing a write never puts old data back, and with Redis stopped mid-run everything stays correct."""

from __future__ import annotations

import os
import signal
import time

import pytest

from shared import wiring
from shared.domain.errors import StorageUnavailableError
from shared.storage.repositories.connections import ConnectionRepository
from shared.storage.repositories.messages import MessageRepository
from tests.component.test_redis_breaker import configure, own_redis  # noqa: F401 (a fixture)
from tests.conftest import DYNAMODB_GRANTS
from tests.support.calls import (
    ack,
    conversations,
    delete,
    history,
    http_mark_read,
    react,
    send,
    star,
    start,
    unread,
    ws_mark_read,
)

pytestmark = pytest.mark.component


def _queries(function: str, table: str) -> int:
    return DYNAMODB_GRANTS.calls[(function, table, "Query")]


def _contents(user: str, conversation_id: str) -> list[str]:
    status, body = history(user, conversation_id)
    assert status == 200
    return [message["content"] for message in body["messages"]]


def _listed(user: str) -> dict:
    status, body = conversations(user)
    assert status == 200
    return {c["id"]: c for c in body["conversations"]}


def _conversation(backend, streams, messages=("one", "two")) -> str:
    conversation_id = start("alice", "bob")
    for i, content in enumerate(messages):
        assert send("alice", conversation_id, content, client_message_id=f"m{i}")[0] == 201
    streams.drain()
    return conversation_id


def test_a_cached_history_page_is_served_without_querying_messages(backend, streams):
    conversation_id = _conversation(backend, streams)
    DYNAMODB_GRANTS.calls.clear()

    first = history("bob", conversation_id)
    second = history("bob", conversation_id)
    shorter = history("bob", conversation_id, limit="1")

    assert first == second and first[1]["messages"][0]["content"] == "two"
    assert _queries("list_messages", "messages") == 1  # the miss; the hits and the shorter page are cached
    assert [m["content"] for m in shorter[1]["messages"]] == ["two"] and shorter[1]["next_cursor"]
    older = history("bob", conversation_id, cursor=shorter[1]["next_cursor"])
    assert [m["content"] for m in older[1]["messages"]] == ["one"]  # a later page reads DynamoDB
    # Each request still reads the caller's row: it proves membership and carries the status markers.
    assert DYNAMODB_GRANTS.calls[("list_messages", "user_conversations", "GetItem")] == 4


def test_the_cached_history_holds_messages_as_stored_and_statuses_are_each_callers(backend, streams):
    conversation_id = _conversation(backend, streams, ["hi"])
    assert history("bob", conversation_id)[1]["messages"][0]["status"] == "delivered"  # fills the cache
    assert history("alice", conversation_id)[1]["messages"][0]["status"] == "sent"
    assert http_mark_read("bob", conversation_id)[0] == 200
    assert history("alice", conversation_id)[1]["messages"][0]["status"] == "read"
    assert history("bob", conversation_id)[1]["messages"][0]["status"] == "read"


def test_the_conversation_list_is_served_from_the_cache(backend, streams):
    _conversation(backend, streams)
    DYNAMODB_GRANTS.calls.clear()

    assert _listed("alice") == _listed("alice")
    assert _queries("list_conversations", "user_conversations") == 1


def test_a_send_shows_at_once_in_both_histories_and_the_senders_list(backend, streams):
    conversation_id = _conversation(backend, streams)
    _contents("alice", conversation_id), _contents("bob", conversation_id), _listed("alice")  # cached

    assert send("alice", conversation_id, "three", client_message_id="m3")[0] == 201

    assert _contents("alice", conversation_id)[0] == "three"
    assert _contents("bob", conversation_id)[0] == "three"
    assert _listed("alice")[conversation_id]["last_message"]["preview"] == "three"


def test_the_consumer_moving_the_recipients_row_refreshes_their_list(backend, streams):
    conversation_id = _conversation(backend, streams, ["one"])
    assert _listed("bob")[conversation_id]["unread_count"] == 1  # cached
    assert send("alice", conversation_id, "two", client_message_id="m2")[0] == 201

    streams.drain()  # on_message_stored moves bob's row

    listed = _listed("bob")[conversation_id]
    assert listed["unread_count"] == 2 and listed["last_message"]["preview"] == "two"


def test_reads_and_acks_refresh_both_lists(backend, streams):
    conversation_id = _conversation(backend, streams, ["one"])
    assert _listed("alice")[conversation_id]["last_message"]["status"] == "sent"  # cached
    assert _listed("bob")[conversation_id]["unread_count"] == 1  # cached

    ack("bob", "bob-phone", conversation_id, f"{conversation_id}.1")
    assert _listed("alice")[conversation_id]["last_message"]["status"] == "delivered"

    ws_mark_read("bob", "bob-phone", conversation_id)
    assert _listed("alice")[conversation_id]["last_message"]["status"] == "read"
    assert _listed("bob")[conversation_id]["unread_count"] == 0


def test_a_new_conversation_appears_in_both_cached_lists(backend, streams):
    _conversation(backend, streams)
    assert len(_listed("alice")) == len(_listed("carol")) + 1 == 1  # cached, carol's empty one too
    start("carol", "alice")
    assert len(_listed("alice")) == 2 and len(_listed("carol")) == 1


def test_a_send_whose_pushes_fail_still_refreshes_the_senders_reads_before_it_answers(backend, streams, monkeypatch):
    # The send's invalidation goes alongside its pushes: a failure before them must not skip it.
    conversation_id = _conversation(backend, streams)
    _contents("alice", conversation_id), _listed("alice")  # cached

    def lookup_fails(*args, **kwargs):
        raise StorageUnavailableError("connections unreadable")

    with monkeypatch.context() as patched:
        patched.setattr(ConnectionRepository, "of_users", lookup_fails)
        assert send("alice", conversation_id, "three", client_message_id="m3")[0] == 503  # stored, not pushed

    assert _contents("alice", conversation_id)[0] == "three"
    assert _listed("alice")[conversation_id]["last_message"]["preview"] == "three"


def test_a_fill_racing_a_send_never_puts_the_old_page_back(backend, streams, monkeypatch):
    conversation_id = _conversation(backend, streams)
    read_newest = MessageRepository._newest

    def read_then_someone_sends(self, conversation):
        page = read_newest(self, conversation)  # the old page, read before the send below
        monkeypatch.setattr(MessageRepository, "_newest", read_newest)
        assert send("alice", conversation, "three", client_message_id="m3")[0] == 201
        return page

    monkeypatch.setattr(MessageRepository, "_newest", read_then_someone_sends)
    assert _contents("bob", conversation_id)[0] == "two"  # the racing reader answers what it read

    assert _contents("bob", conversation_id)[0] == "three"  # but did not cache it


def test_a_lost_invalidation_never_hides_a_sent_message(backend, streams, monkeypatch):
    conversation_id = _conversation(backend, streams)
    _contents("alice", conversation_id)  # cached
    with monkeypatch.context() as patched:
        patched.setattr(type(wiring.read_cache()), "_invalidate", lambda *args, **kwargs: True)
        assert send("alice", conversation_id, "three", client_message_id="m3")[0] == 201

    # The cached page's newest seq is behind alice's row: it is dropped and read again.
    assert _contents("alice", conversation_id)[0] == "three"


def test_a_lost_invalidation_of_a_change_ends_once_its_consumer_noted_it_on_the_readers_row(backend, streams, monkeypatch):
    """Another instance's cached page, left behind by a reaction, a delete and a star whose invalidations
    never reached Redis: each reader's row names the latest change that concerns them, and a page holding
    an older version of that message is dropped and read again."""
    conversation_id = _conversation(backend, streams, ["keep", "the secret"])
    keep, secret = f"{conversation_id}.1", f"{conversation_id}.2"
    assert len(history("bob", conversation_id)[1]["messages"]) == 2  # cached
    with monkeypatch.context() as patched:
        patched.setattr(type(wiring.read_cache()), "changed", lambda *args, **kwargs: None)
        assert react("bob", keep, "👍")[0] == 200
        assert delete("alice", secret)[0] == 200
        assert star("alice", keep)[0] == 200  # private: noted on alice's row alone
    streams.drain()  # the consumers note the changes on the rows (within a second or so on AWS)

    for user in ("alice", "bob"):
        messages = {m["id"]: m for m in history(user, conversation_id)[1]["messages"]}
        assert messages[keep]["reactions"] == [{"user_id": "bob", "emoji": "👍"}], user
        assert messages[secret]["deleted"] and "the secret" not in str(messages), user
        assert messages[keep]["starred"] is (user == "alice")
    DYNAMODB_GRANTS.calls.clear()
    history("bob", conversation_id)
    assert _queries("list_messages", "messages") == 0  # the page filled again is served from Redis


def test_with_redis_stopped_mid_run_nothing_is_wrong(own_redis, streams, monkeypatch):  # noqa: F811
    configure(monkeypatch, REDIS_BREAKER_SECONDS=0.5, REDIS_TIMEOUT_SECONDS=0.2)
    conversation_id = _conversation(None, streams, ["one"])
    assert _contents("bob", conversation_id) == ["one"] and _listed("bob")[conversation_id]["unread_count"] == 1
    assert _listed("alice")[conversation_id]["last_message"]["preview"] == "one"

    os.kill(own_redis.pid, signal.SIGSTOP)
    assert send("alice", conversation_id, "two", client_message_id="m2")[0] == 201
    streams.drain()
    assert http_mark_read("bob", conversation_id)[0] == 200
    assert _contents("bob", conversation_id) == ["two", "one"]
    assert _listed("bob")[conversation_id]["unread_count"] == 0
    assert _listed("alice")[conversation_id]["last_message"]["status"] == "read"
    assert wiring.cache().is_open

    os.kill(own_redis.pid, signal.SIGCONT)
    time.sleep(0.6)  # the breaker's period: the next call tries Redis again
    DYNAMODB_GRANTS.calls.clear()
    for _ in range(2):  # the first fills the caches again, the second is served from them
        assert _contents("bob", conversation_id) == ["two", "one"]
        assert _listed("bob")[conversation_id]["unread_count"] == 0
        assert _listed("alice")[conversation_id]["last_message"]["preview"] == "two"
    assert not wiring.cache().is_open
    assert _queries("list_conversations", "user_conversations") == 2  # bob's and alice's misses


def test_unread_totals_are_cached_per_user_and_dropped_with_their_rows(backend):
    read_cache = wiring.read_cache()
    assert read_cache.unread_total("bob", lambda: 3) == 3
    assert read_cache.unread_total("bob", lambda: 99) == 3  # served from Redis
    read_cache.changed(user_ids=["alice"])
    assert read_cache.unread_total("bob", lambda: 99) == 3
    read_cache.changed(user_ids=["bob"])  # any write to bob's rows
    assert read_cache.unread_total("bob", lambda: 4) == 4


def test_reactions_and_deletes_refresh_the_cached_history_and_list(backend, streams):
    conversation_id = _conversation(backend, streams, ["keep", "the secret"])
    keep, secret = f"{conversation_id}.1", f"{conversation_id}.2"
    history("bob", conversation_id), history("alice", conversation_id), _listed("bob")  # cached

    assert react("bob", keep, "👍")[0] == 200
    assert history("alice", conversation_id)[1]["messages"][1]["reactions"]

    assert delete("bob", keep, for_me=True)[0] == 200  # per user: applied at read time
    assert [m["id"] for m in history("bob", conversation_id)[1]["messages"]] == [secret]
    assert [m["id"] for m in history("alice", conversation_id)[1]["messages"]] == [secret, keep]

    assert delete("alice", secret)[0] == 200
    streams.drain()
    for user in ("alice", "bob"):
        assert "the secret" not in str(history(user, conversation_id)[1])
        assert "the secret" not in str(conversations(user)[1])


def test_the_cached_unread_total_follows_arrivals_and_reads(backend, streams):
    conversation_id = _conversation(backend, streams, ["one"])
    assert unread("bob") == (200, {"unread_count": 1})
    DYNAMODB_GRANTS.calls.clear()
    assert unread("bob") == (200, {"unread_count": 1})
    assert _queries("unread_count", "user_conversations") == 0  # served from unread:{bob}

    assert send("alice", conversation_id, "two", client_message_id="m2")[0] == 201
    streams.drain()
    assert unread("bob") == (200, {"unread_count": 2})
    assert http_mark_read("bob", conversation_id)[0] == 200
    assert unread("bob") == (200, {"unread_count": 0})
    assert unread("alice") == (200, {"unread_count": 0})
