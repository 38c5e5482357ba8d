"""Any sequence of what two participants do to their messages — send, reply, react, unreact, star, unstar,
delete for me, delete for everyone, read — through the real handlers, against a model of what each should
then see: every answer as the model expects (never a 5xx), and each user's history, stars, and (once the
consumers ran) conversation row, unread count, message statuses and sync as the model says. Found: a message whose last reaction was removed refused every later one (503).

Reproducible (derandomized) by default, as the fuzz tier: PARLEY_FUZZ_SCALE multiplies the sequences,
PARLEY_FUZZ_RANDOM=1 draws new ones."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.support.calls import (
    conversations,
    delete,
    history,
    http_mark_read,
    react,
    send,
    star,
    starred,
    start,
    sync_all,
    unreact,
    unstar,
)

pytestmark = pytest.mark.component

EMOJI = ("👍", "❤️", "🎉")
PICK = st.integers(min_value=0, max_value=30)  # a message, by position (modulo how many there are)
SCALE = float(os.environ.get("PARLEY_FUZZ_SCALE", "1"))


@dataclass
class Expected:
    """What the model holds of one message."""

    id: str
    sender: str
    content: str
    reply_to: int | None  # the quoted message's position
    deleted: bool = False
    reactions: dict[str, str] = field(default_factory=dict)
    starred_by: set[str] = field(default_factory=set)
    hidden_for: set[str] = field(default_factory=set)


class TwoParticipants(RuleBasedStateMachine):
    streams = None  # the test's StreamPump, set before the run

    def __init__(self):
        super().__init__()
        run = uuid.uuid4().hex[:8]
        self.users = (f"alice-{run}", f"bob-{run}")
        self.conversation_id = start(*self.users)
        self.messages: list[Expected] = []  # message i has seq i + 1
        self.read_seq = dict.fromkeys(self.users, 0)  # each user's own read marker
        self.peer_read = dict.fromkeys(self.users, 0)  # on each user's row: how far the peer has read

    def _peer(self, user: str) -> str:
        return next(u for u in self.users if u != user)

    def _pick(self, index: int) -> Expected:
        return self.messages[index % len(self.messages)]

    @rule(who=st.integers(0, 1), quote=st.none() | PICK)
    def send(self, who, quote):
        user = self.users[who]
        quoted = self._pick(quote) if quote is not None and self.messages else None
        extra = {"reply_to": quoted.id} if quoted else {}
        content = f"message {len(self.messages)} from {user}"
        status, body = send(user, self.conversation_id, content, uuid.uuid4().hex, **extra)
        assert status == 201, body
        self.messages.append(Expected(body["message"]["id"], user, content, self.messages.index(quoted) if quoted else None))
        seq = len(self.messages)
        self.read_seq[user] = seq  # one's own message is read
        peer = self._peer(user)  # the reply rule: the sender has seen everything before it
        self.peer_read[peer] = max(self.peer_read[peer], seq - 1)

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 1), index=PICK)
    def read(self, who, index):
        """Read up to a message (after the consumers ran: a marker moves only up to what its row has seen)."""
        user, message = self.users[who], self._pick(index)
        self.streams.drain()
        status, body = http_mark_read(user, self.conversation_id, message.id)
        assert status == 200, body
        seq = self.messages.index(message) + 1
        self.read_seq[user] = max(self.read_seq[user], seq)
        self.peer_read[self._peer(user)] = max(self.peer_read[self._peer(user)], seq)

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 1), index=PICK, emoji=st.sampled_from(EMOJI))
    def react(self, who, index, emoji):
        user, message = self.users[who], self._pick(index)
        status, body = react(user, message.id, emoji)
        if user in message.hidden_for:
            assert status == 404, body
        elif message.deleted:
            assert status == 400, body
        else:
            assert status == 200, body
            message.reactions[user] = emoji

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 1), index=PICK)
    def unreact(self, who, index):
        user, message = self.users[who], self._pick(index)
        status, body = unreact(user, message.id)
        assert status == (404 if user in message.hidden_for else 200), body
        if status == 200:
            message.reactions.pop(user, None)

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 1), index=PICK)
    def star(self, who, index):
        user, message = self.users[who], self._pick(index)
        status, body = star(user, message.id)
        assert status == (404 if user in message.hidden_for else 400 if message.deleted else 200), body
        if status == 200:
            message.starred_by.add(user)

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 1), index=PICK)
    def unstar(self, who, index):
        user, message = self.users[who], self._pick(index)
        status, body = unstar(user, message.id)
        assert status == 200, body
        message.starred_by.discard(user)

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 1), index=PICK)
    def delete_for_me(self, who, index):
        user, message = self.users[who], self._pick(index)
        status, body = delete(user, message.id, for_me=True)
        assert status == 200, body
        message.hidden_for.add(user)

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 1), index=PICK)
    def delete_for_everyone(self, who, index):
        user, message = self.users[who], self._pick(index)
        status, body = delete(user, message.id)
        assert status == (200 if user == message.sender else 403), body
        if status == 200:
            message.deleted, message.reactions = True, {}

    @invariant()
    def each_user_sees_what_the_model_says(self):
        for user in self.users:
            status, body = history(user, self.conversation_id, limit="100")
            assert status == 200, body
            assert body["messages"] == sorted(body["messages"], key=lambda m: -m["seq"])
            seen = {m["id"]: m for m in body["messages"]}
            assert set(seen) == {m.id for m in self.messages if user not in m.hidden_for}
            for expected in self.messages:
                if expected.id in seen:
                    self._check_message(seen[expected.id], expected, user)
            status, body = starred(user, limit="100")
            assert {e["message"]["id"] for e in body["starred"]} == {
                m.id for m in self.messages if user in m.starred_by and user not in m.hidden_for
            }

    def _check_message(self, shown: dict, expected: Expected, user: str) -> None:
        assert shown["deleted"] is expected.deleted, (shown, expected)
        assert shown["content"] == ("" if expected.deleted else expected.content)
        assert shown["reactions"] == [{"user_id": u, "emoji": e} for u, e in sorted(expected.reactions.items())]
        assert shown["starred"] is (user in expected.starred_by)
        if expected.reply_to is None or expected.deleted:  # a tombstone keeps no quote
            assert shown["reply_to"] is None
        else:
            quoted = self.messages[expected.reply_to]
            assert shown["reply_to"]["id"] == quoted.id and shown["reply_to"]["deleted"] is quoted.deleted
            assert shown["reply_to"]["preview"] == ("" if quoted.deleted else quoted.content)

    def teardown(self):
        """Once the consumers ran: each user's row shows the newest message as that user sees it and the
        unread count, and each message its status as that user's markers give it."""
        if not self.messages:
            return
        self.streams.drain()
        newest = self.messages[-1]
        for user in self.users:
            row = next(c for c in conversations(user)[1]["conversations"] if c["id"] == self.conversation_id)
            gone = newest.deleted or user in newest.hidden_for
            assert row["last_message"]["id"] == newest.id
            assert row["last_message"]["deleted"] is gone
            assert row["last_message"]["preview"] == ("" if gone else newest.content)
            assert row["unread_count"] == len(self.messages) - self.read_seq[user]
            statuses = {m["id"]: m["status"] for m in history(user, self.conversation_id, limit="100")[1]["messages"]}
            for seq, message in enumerate(self.messages, start=1):
                if message.id not in statuses:
                    continue
                if message.sender == user:
                    expected = "read" if seq <= self.peer_read[user] else "sent"
                else:
                    expected = "read" if seq <= self.read_seq[user] else "delivered"
                assert statuses[message.id] == expected, (user, seq, message, self.read_seq, self.peer_read)
            self._check_sync(user)

    def _check_sync(self, user: str) -> None:
        """The user's sync: one new_message per message, in order, and every event naming a message shows it
        as the user sees it now (a tombstone once deleted, or deleted by them for themselves)."""
        events, _ = sync_all(user, limit=500)
        assert [e["data"]["message"]["id"] for e in events if e["type"] == "new_message"] == [m.id for m in self.messages]
        by_id = {m.id: m for m in self.messages}
        for event in (e for e in events if e["type"] in ("new_message", "message_updated")):
            shown, expected = event["data"]["message"], by_id[event["data"]["message"]["id"]]
            gone = expected.deleted or user in expected.hidden_for
            assert shown["deleted"] is gone and shown["content"] == ("" if gone else expected.content), (event, expected)
            reactions = {} if gone else expected.reactions
            assert shown["reactions"] == [{"user_id": u, "emoji": e} for u, e in sorted(reactions.items())]
            assert shown["starred"] is (user in expected.starred_by)


def test_any_sequence_of_message_actions_leaves_each_user_what_the_model_says(backend, streams, no_rate_limit):
    TwoParticipants.streams = streams
    run_state_machine_as_test(
        TwoParticipants,
        settings=settings(
            max_examples=max(5, int(25 * SCALE)),
            stateful_step_count=25,
            derandomize=os.environ.get("PARLEY_FUZZ_RANDOM") != "1",
            suppress_health_check=list(HealthCheck),
        ),
    )
