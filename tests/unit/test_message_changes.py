"""What a change to a message means: who sees what, which events it makes, what the search index does."""

import contextlib

import pytest

from shared.domain.models import Conversation, Message, ReplyPreview
from shared.services.event_log import events_for_change, on_message_changed
from shared.services.search import MessageEvent, SearchDeps, index_user_events

pytestmark = pytest.mark.unit

MESSAGE = Message("dm_c", 3, "alice", "m3", "text", "secret plan", "2026-11-25T10:00:00.000Z",
                  reactions=(("bob", "👍"),), reply_to=ReplyPreview(1, "bob", "text", "hi"))


def test_a_message_hidden_by_a_user_is_a_tombstone_to_them_alone():
    hidden = Message(**{**MESSAGE.__dict__, "hidden_for": frozenset({"bob"})})
    assert not hidden.visible_to("bob") and hidden.visible_to("alice")
    seen = hidden.as_seen_by("bob").to_dict()
    assert seen["deleted"] and seen["content"] == "" and seen["reactions"] == [] and seen["reply_to"] is None
    assert hidden.as_seen_by("alice").to_dict()["content"] == "secret plan"
    assert "hidden_for" not in seen  # private to each user


def test_a_change_of_last_update_is_one_message_updated_event_with_a_stable_id():
    row = Conversation("dm_c", "bob", "alice", "t", "t", last_seq=3, read_seq=3)
    changed = Conversation(**{**row.__dict__, "last_update": (3, 2)})
    (event,) = events_for_change(row, changed)
    assert (event.event_id, event.type, event.data) == ("upd:dm_c:3:2", "message_updated", {"seq": 3, "version": 2})
    assert events_for_change(changed, changed) == []  # a redelivered record


def test_a_star_is_private_to_whoever_set_it():
    starred = Message(**{**MESSAGE.__dict__, "starred_by": frozenset({"bob"})})
    assert starred.as_seen_by("bob").to_dict()["starred"] is True
    assert starred.as_seen_by("alice").to_dict()["starred"] is False
    assert starred.to_dict()["starred"] is False and "starred_by" not in starred.as_seen_by("bob").to_dict()


class FakeRows:
    def __init__(self):
        self.updated = []

    def participants(self, conversation_id):
        return frozenset({"alice", "bob"})

    def record_update(self, user_id, conversation_id, seq, version):
        self.updated.append(user_id)

    def tombstone_last_message(self, user_id, conversation_id, seq):
        pass


@pytest.mark.parametrize(
    "change, concerned",
    [
        ({"starred_by": frozenset({"bob"})}, ["bob"]),  # a star: bob's event log alone
        ({"hidden_for": frozenset({"alice"})}, ["alice"]),
        ({"reactions": ()}, ["alice", "bob"]),
        ({"reactions": (), "starred_by": frozenset({"bob"})}, ["alice", "bob"]),
    ],
)
def test_a_change_private_to_a_user_reaches_that_users_event_log_alone(change, concerned):
    rows = FakeRows()
    on_message_changed(rows, MESSAGE, Message(**{**MESSAGE.__dict__, **change, "version": 1}))
    assert rows.updated == concerned


class FakeIndexes:
    def __init__(self, failing=()):
        self.applied, self.failing = [], set(failing)

    def apply(self, user_id, entries, removals):
        if user_id in self.failing:
            raise OSError("S3 down")
        self.applied.append((user_id, [(e.conversation_id, e.seq) for e in entries], removals))
        return True

    @contextlib.contextmanager
    def reading(self, user_id):
        yield None


class FakeMessages:
    def __init__(self, *messages):
        self.stored = {(m.conversation_id, m.seq): m for m in messages}

    def get_many(self, keys):
        return {key: self.stored[key] for key in keys if key in self.stored}


def test_the_indexer_adds_new_visible_messages_and_removes_deleted_or_hidden_ones():
    deleted = Message(**{**MESSAGE.__dict__, "seq": 4, "deleted": True, "content": ""})
    hidden = Message(**{**MESSAGE.__dict__, "seq": 5, "hidden_for": frozenset({"bob"})})
    indexes = FakeIndexes()
    deps = SearchDeps(indexes, FakeMessages(MESSAGE, deleted, hidden), conversations=None)
    index_user_events(deps, [
        MessageEvent("bob", "dm_c", 3, new=True),
        MessageEvent("alice", "dm_c", 5, new=True),
        MessageEvent("bob", "dm_c", 4, new=False),
        MessageEvent("bob", "dm_c", 5, new=False),
        MessageEvent("bob", "dm_c", 3, new=False),  # a reaction: still visible, nothing to do
    ])
    assert indexes.applied == [
        ("bob", [("dm_c", 3)], [("dm_c", 4), ("dm_c", 5)]),
        ("alice", [("dm_c", 5)], []),
    ]


def test_the_indexer_names_the_first_user_it_could_not_write():
    from shared.services.search import IndexingFailedError

    deps = SearchDeps(FakeIndexes(failing={"carol"}), FakeMessages(MESSAGE), conversations=None)
    with pytest.raises(IndexingFailedError) as failure:
        index_user_events(deps, [MessageEvent("bob", "dm_c", 3, True), MessageEvent("carol", "dm_c", 3, True)])
    assert failure.value.user_id == "carol"
