import pytest

from shared.domain.ids import direct_conversation_id, is_conversation_id, is_sortable_id, new_sortable_id

pytestmark = pytest.mark.unit


def test_message_ids_sort_by_creation_time():
    ids = [new_sortable_id(now_ms=ms) for ms in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000)]
    assert ids == sorted(ids)
    assert all(is_sortable_id(i) for i in ids)


def test_message_ids_made_in_the_same_millisecond_differ():
    ids = {new_sortable_id(now_ms=1_700_000_000_000) for _ in range(1000)}
    assert len(ids) == 1000


def test_conversation_id_is_the_same_from_either_side_and_hides_the_users():
    a = direct_conversation_id("alice", "bob")
    assert a == direct_conversation_id("bob", "alice")
    assert a != direct_conversation_id("alice", "carol")
    assert "alice" not in a and is_conversation_id(a)


def test_conversation_id_cannot_be_forged_by_joining_names():
    assert direct_conversation_id("a", "b\x00c") != direct_conversation_id("a\x00b", "c")


@pytest.mark.parametrize("value", ["", "dm_", "dm_" + "g" * 32, "xx_" + "0" * 32, "dm_" + "0" * 31])
def test_malformed_conversation_ids_are_rejected(value):
    assert not is_conversation_id(value)
