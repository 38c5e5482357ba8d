"""Starting, reading and listing conversations, through the real handlers against moto."""

import pytest

from functions import get_conversation, list_conversations, start_conversation
from tests.support.events import http_event, parse

pytestmark = pytest.mark.component


def start(user, peer):
    return parse(start_conversation.handler(http_event("start_conversation", user_id=user, path={"id": peer}), None))


def test_starting_twice_from_either_side_gives_one_conversation(backend):
    status, body = start("alice", "bob")
    assert status == 201
    conversation = body["conversation"]
    assert conversation["participant_ids"] == ["alice", "bob"] and conversation["peer_id"] == "bob"
    assert conversation["last_message"] is None

    again_status, again = start("alice", "bob")
    other_status, other_side = start("bob", "alice")
    assert (again_status, other_status) == (200, 200)
    assert again["conversation"]["id"] == other_side["conversation"]["id"] == conversation["id"]
    assert other_side["conversation"]["peer_id"] == "alice"


def test_a_conversation_with_yourself_is_a_400_and_creates_nothing(backend):
    status, body = start("alice", "alice")
    assert status == 400 and "yourself" in body["error"]["message"]
    listed = parse(list_conversations.handler(http_event("list_conversations", user_id="alice"), None))[1]
    assert listed["conversations"] == []


@pytest.mark.parametrize("peer", ["x" * 129, " bob", "bo\nb", "bo\u200bb"])
def test_a_malformed_user_id_is_a_400(backend, peer):
    assert start("alice", peer)[0] == 400


def test_only_participants_can_read_a_conversation(backend):
    conversation_id = start("alice", "bob")[1]["conversation"]["id"]
    for user in ("alice", "bob"):
        status, body = parse(
            get_conversation.handler(http_event("get_conversation", user_id=user, path={"id": conversation_id}), None)
        )
        assert status == 200 and body["conversation"]["id"] == conversation_id
    status, body = parse(
        get_conversation.handler(http_event("get_conversation", user_id="mallory", path={"id": conversation_id}), None)
    )
    unknown = parse(
        get_conversation.handler(http_event("get_conversation", user_id="alice", path={"id": "dm_" + "f" * 32}), None)
    )
    # A stranger learns nothing: the same 404 as for a conversation that does not exist.
    assert (status, body) == unknown == (404, {"error": {"code": "conversation_not_found", "message": "conversation not found"}})


def test_the_list_is_paged_newest_activity_first_without_gaps_or_repeats(backend):
    peers = [f"peer{i:02d}" for i in range(7)]
    for peer in peers:
        start("alice", peer)
    seen, cursor = [], None
    while True:
        query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        status, body = parse(list_conversations.handler(http_event("list_conversations", user_id="alice", query=query), None))
        assert status == 200 and len(body["conversations"]) <= 3
        seen += [c["peer_id"] for c in body["conversations"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(peers))  # started later = more recent activity


def test_a_cursor_cannot_read_someone_elses_list(backend):
    for peer in ("p1", "p2", "p3"):
        start("alice", peer)
    cursor = parse(list_conversations.handler(http_event("list_conversations", user_id="alice", query={"limit": "1"}), None))[1]["next_cursor"]
    status, body = parse(list_conversations.handler(http_event("list_conversations", user_id="mallory", query={"cursor": cursor}), None))
    assert status == 200 and body["conversations"] == []
