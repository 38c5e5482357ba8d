"""Pure logic of the spine: message ids, derived statuses, and the events a row change means."""

import pytest

from shared.domain.ids import MAX_SEQ, message_id, parse_message_id
from shared.domain.models import Conversation
from shared.services.event_log import events_for_change

pytestmark = pytest.mark.unit

C = "dm_" + "a" * 32


def test_message_ids_round_trip():
    assert parse_message_id(message_id(C, 42)) == (C, 42)
    assert parse_message_id(message_id(C, MAX_SEQ)) == (C, MAX_SEQ)


@pytest.mark.parametrize(
    "value",
    [None, 5, "", C, f"{C}.", f"{C}.0", f"{C}.01", f"{C}.-1", f"{C}.+1", f"{C}.1.2", f"{C}. 1", f"{C}.1e3",
     f"{C}.{MAX_SEQ + 1}", "dm_xyz.1", f"{C}.١", f"{C.upper()}.1"],
)
def test_malformed_message_ids_are_refused(value):
    assert parse_message_id(value) is None


def row(**fields) -> Conversation:
    base = dict(id=C, user_id="alice", peer_id="bob", created_at="t0", last_activity_at="t0")
    return Conversation(**(base | fields))


def test_statuses_derive_from_the_markers():
    mine = row(last_seq=5, peer_delivered_seq=3, peer_read_seq=2, read_seq=5)
    assert [mine.status_of(seq, "alice") for seq in (1, 2, 3, 4)] == ["read", "read", "delivered", "sent"]
    theirs = row(last_seq=5, read_seq=3)
    assert [theirs.status_of(seq, "bob") for seq in (3, 4)] == ["read", "delivered"]
    assert theirs.unread_count == 2


def ids(events):
    return [e.event_id for e in events]


def test_a_row_that_moved_several_seqs_gets_one_new_message_event_per_seq():
    assert ids(events_for_change(row(last_seq=2), row(last_seq=5, peer_read_seq=4))) == [
        f"msg:{C}:3", f"msg:{C}:4", f"msg:{C}:5",
    ]  # the reply rule's read marker is implied by the new message: no receipt of its own


def test_receipts_about_the_peer_and_about_oneself():
    before = row(last_seq=5)
    assert ids(events_for_change(before, row(last_seq=5, peer_delivered_seq=4))) == [f"rcpt:{C}:bob:delivered:4"]
    assert ids(events_for_change(before, row(last_seq=5, peer_delivered_seq=4, peer_read_seq=4))) == [
        f"rcpt:{C}:bob:read:4"
    ]  # read implies delivered
    assert ids(events_for_change(before, row(last_seq=5, peer_delivered_seq=5, peer_read_seq=4))) == [
        f"rcpt:{C}:bob:read:4", f"rcpt:{C}:bob:delivered:5",
    ]
    assert ids(events_for_change(before, row(last_seq=5, read_seq=5))) == [f"rcpt:{C}:alice:read:5"]


def test_a_new_row_or_an_unchanged_one_means_nothing():
    assert events_for_change(None, row()) == []
    assert events_for_change(row(last_seq=3), row(last_seq=3)) == []
