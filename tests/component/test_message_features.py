"""Issue 7 through the real handlers: finding a message by id, reactions, replies, stars, deletes, unread
counts and search, each for its participants only, each pushed live, in sync and in history."""

import json

import pytest

from tests.conftest import DYNAMODB_GRANTS
from tests.support.calls import (
    connect,
    conversations,
    delete,
    history,
    http_mark_read,
    react,
    search,
    send,
    star,
    starred,
    start,
    sync_all,
    unreact,
    unread,
    unstar,
)

pytestmark = pytest.mark.component

NOT_FOUND = {"error": {"code": "message_not_found", "message": "message not found"}}


@pytest.fixture
def chat(backend, streams):
    """alice and bob's conversation with three messages; carol is a third user with one of her own."""
    conversation_id = start("alice", "bob")
    ids = [send(user, conversation_id, text, f"c{i}")[1]["message"]["id"] for i, (user, text) in enumerate(
        [("alice", "Lunch at the Café Müller?"), ("bob", "yes, noon"), ("alice", "see you there")]
    )]
    start("carol", "dave")
    streams.drain()
    return conversation_id, ids


def updates(management_api, connection_id):
    return [frame for frame in management_api.frames(connection_id) if frame["type"] == "message_updated"]


# -- finding a message, authorization -------------------------------------------------------------------


@pytest.mark.parametrize("action", ["react", "unreact", "delete", "delete_for_me", "star", "unstar"])
def test_an_outsider_gets_the_same_404_as_for_a_message_that_never_existed(chat, action):
    conversation_id, ids = chat
    calls = {
        "react": lambda user, mid: react(user, mid, "👍"),
        "unreact": unreact,
        "delete": delete,
        "delete_for_me": lambda user, mid: delete(user, mid, for_me=True),
        "star": star,
        "unstar": unstar,
    }
    call = calls[action]
    for message_id in (ids[0], f"{conversation_id}.99", "dm_nope.1", "x", "../" * 30):
        assert call("carol", message_id) == (404, NOT_FOUND), message_id
    assert call("bob", f"{conversation_id}.99") == (404, NOT_FOUND)
    # Nothing changed for the participants.
    assert [m["reactions"] for m in history("alice", conversation_id)[1]["messages"]] == [[], [], []]
    assert starred("carol")[1]["starred"] == [] and not any(m["deleted"] for m in history("bob", conversation_id)[1]["messages"])


def test_an_outsider_finds_nothing_by_search_and_no_unread_counts(chat, streams):
    assert search("carol", "lunch") == (200, {"results": [], "next_cursor": None})
    assert unread("carol") == (200, {"unread_count": 0})


# -- reactions -------------------------------------------------------------------------------------------


def test_reactions_one_per_user_replaced_removed_and_shown_in_history(chat, management_api):
    conversation_id, ids = chat
    connect("bob", "bob-phone")
    assert react("bob", ids[0], "👍🏽")[0] == 200
    status, body = react("alice", ids[0], "❤")  # stored fully qualified
    assert status == 200 and body["message"]["reactions"] == [
        {"user_id": "alice", "emoji": "❤️"},
        {"user_id": "bob", "emoji": "👍🏽"},
    ]
    react("bob", ids[0], "🇯🇵")  # replaces bob's
    unreact("alice", ids[0])
    unreact("alice", ids[0])  # harmless twice
    first = history("alice", conversation_id)[1]["messages"][-1]
    assert first["reactions"] == [{"user_id": "bob", "emoji": "🇯🇵"}]
    pushed = updates(management_api, "bob-phone")
    assert [frame["data"]["message"]["reactions"] for frame in pushed][-1] == [{"user_id": "bob", "emoji": "🇯🇵"}]
    assert len({frame["id"] for frame in pushed}) == len(pushed) == 4  # one per change, each its own id


def test_a_message_whose_last_reaction_was_removed_takes_reactions_again(chat):
    conversation_id, ids = chat
    assert react("bob", ids[0], "👍")[0] == 200
    assert unreact("bob", ids[0])[0] == 200  # its reactions are empty again
    status, body = react("bob", ids[0], "🎉")
    assert status == 200 and body["message"]["reactions"] == [{"user_id": "bob", "emoji": "🎉"}]
    assert react("alice", ids[0], "❤")[0] == 200
    shown = history("alice", conversation_id)[1]["messages"][-1]["reactions"]
    assert shown == [{"user_id": "alice", "emoji": "❤️"}, {"user_id": "bob", "emoji": "🎉"}]


@pytest.mark.parametrize("emoji", ["", "ok", "👍👍", "👍 ", "🏽", None, 5, ["👍"]])
def test_anything_but_one_emoji_is_a_400(chat, emoji):
    _conversation_id, ids = chat
    assert react("bob", ids[0], emoji)[0] == 400


def test_reaction_changes_reach_sync_with_the_ids_they_were_pushed_with(chat, streams, management_api):
    _conversation_id, ids = chat
    connect("bob", "bob-phone")
    react("alice", ids[1], "🎉")
    streams.drain()
    synced = [e for e in sync_all("bob")[0] if e["type"] == "message_updated"]
    pushed = updates(management_api, "bob-phone")
    assert [e["id"] for e in synced] == [f["id"] for f in pushed]
    assert synced[0]["data"]["message"]["reactions"] == [{"user_id": "alice", "emoji": "🎉"}]


# -- replies ---------------------------------------------------------------------------------------------


def test_a_reply_embeds_a_preview_of_the_quoted_message(chat):
    conversation_id, ids = chat
    status, body = send("bob", conversation_id, "great", "r1", reply_to=ids[0])
    assert status == 201
    assert body["message"]["reply_to"] == {
        "id": ids[0],
        "seq": 1,
        "sender_id": "alice",
        "type": "text",
        "preview": "Lunch at the Café Müller?",
        "deleted": False,
    }
    assert history("alice", conversation_id)[1]["messages"][0]["reply_to"]["id"] == ids[0]


def test_replying_across_conversations_or_to_nothing_is_a_400(chat):
    conversation_id, ids = chat
    other = start("bob", "carol")
    carol_message = send("carol", other, "hi bob", "x1")[1]["message"]["id"]
    for reply_to in (carol_message, f"{conversation_id}.99", "nonsense", 7):
        assert send("bob", conversation_id, "re", f"r-{reply_to}", reply_to=reply_to)[0] == 400


# -- deletes ---------------------------------------------------------------------------------------------


def test_only_the_sender_deletes_for_everyone_and_twice_is_harmless(chat):
    _conversation_id, ids = chat
    assert delete("bob", ids[0]) == (403, {"error": {"code": "forbidden", "message": "only its sender can delete a message for everyone"}})
    first = delete("alice", ids[0])
    assert first[0] == 200 and first[1]["message"]["deleted"] and first[1]["message"]["content"] == ""
    assert delete("alice", ids[0]) == first


def test_delete_for_me_hides_it_from_that_user_alone(chat, streams):
    conversation_id, ids = chat
    assert delete("bob", ids[0], for_me=True)[0] == 200
    assert delete("bob", ids[0], for_me=True)[0] == 200  # twice: harmless
    streams.drain()
    assert ids[0] not in [m["id"] for m in history("bob", conversation_id)[1]["messages"]]
    assert history("alice", conversation_id)[1]["messages"][-1]["content"] == "Lunch at the Café Müller?"
    assert search("bob", "lunch")[1]["results"] == []
    assert [r["message"]["id"] for r in search("alice", "lunch")[1]["results"]] == [ids[0]]
    assert react("bob", ids[0], "👍")[0] == 404  # gone for bob


def test_a_deleted_messages_text_is_findable_on_no_read_path(chat, streams, management_api):
    """Every read path a client has, searched for the deleted text after the delete."""
    conversation_id, ids = chat
    connect("bob", "bob-phone")
    secret = "the vault code is 4711"
    secret_id = send("alice", conversation_id, secret, "secret")[1]["message"]["id"]
    reply = send("bob", conversation_id, "noted", "r1", reply_to=secret_id)[1]["message"]
    react("bob", secret_id, "👍")
    star("bob", secret_id)
    star("alice", secret_id)
    streams.drain()
    assert [r["message"]["id"] for r in search("bob", "vault")[1]["results"]] == [secret_id]  # indexed

    pushed_before = len(management_api.frames("bob-phone"))
    assert delete("alice", secret_id)[0] == 200
    # Before the consumers ran: search already leaves it out, lists and previews are already clean.
    reads = lambda: {  # noqa: E731
        "history": [history(user, conversation_id) for user in ("alice", "bob")],
        "conversations": [conversations(user) for user in ("alice", "bob")],
        "search": [search(user, q) for user in ("alice", "bob") for q in ("vault", "code 4711", "4711")],
        "starred": [starred(user) for user in ("alice", "bob")],
        "sync": [sync_all(user)[0] for user in ("alice", "bob")],
    }
    for name, result in reads().items():
        assert "vault" not in json.dumps(result, ensure_ascii=False), name
    streams.drain()
    everything = reads() | {"pushed": management_api.frames("bob-phone")[pushed_before:]}
    for name, result in everything.items():
        assert "vault" not in json.dumps(result, ensure_ascii=False), name
    # The tombstone stays in history; the reply shows it; the star list shows it.
    tombstone = next(m for m in history("bob", conversation_id)[1]["messages"] if m["id"] == secret_id)
    assert tombstone["deleted"] and tombstone["content"] == "" and tombstone["reactions"] == []
    replied = next(m for m in history("bob", conversation_id)[1]["messages"] if m["id"] == reply["id"])
    assert replied["reply_to"]["deleted"] and replied["reply_to"]["preview"] == ""
    assert starred("bob")[1]["starred"][0]["message"]["deleted"]
    assert any(f["type"] == "message_updated" and f["data"]["message"]["id"] == secret_id for f in everything["pushed"])


def test_a_reply_sent_after_the_quoted_message_was_deleted_shows_the_tombstone(chat):
    conversation_id, ids = chat
    delete("alice", ids[0])
    body = send("bob", conversation_id, "what was that?", "r2", reply_to=ids[0])[1]
    assert body["message"]["reply_to"]["deleted"] and body["message"]["reply_to"]["preview"] == ""


# -- stars -----------------------------------------------------------------------------------------------


def test_stars_are_private_newest_starred_first_and_paginated(chat):
    _conversation_id, ids = chat
    for message_id in (ids[1], ids[0], ids[2]):
        assert star("bob", message_id)[0] == 200
    star("bob", ids[1])  # again: keeps its place
    assert starred("alice")[1] == {"starred": [], "next_cursor": None}
    first = starred("bob", limit="2")[1]
    assert [e["message"]["id"] for e in first["starred"]] == [ids[2], ids[0]]
    rest = starred("bob", limit="2", cursor=first["next_cursor"])[1]
    assert [e["message"]["id"] for e in rest["starred"]] == [ids[1]] and rest["next_cursor"] is None
    unstar("bob", ids[0])
    unstar("bob", ids[0])
    assert [e["message"]["id"] for e in starred("bob")[1]["starred"]] == [ids[2], ids[1]]
    assert starred("bob", cursor="garbage")[0] == 400


def test_a_star_is_told_to_the_starrers_other_devices_alone_and_reaches_their_sync(chat, streams, management_api):
    conversation_id, ids = chat
    for user, device in (("alice", "alice-phone"), ("alice", "alice-laptop"), ("bob", "bob-phone")):
        connect(user, device)
    status, body = star("alice", ids[1])
    assert status == 200 and body["message"]["starred"] is True and body["message"]["id"] == ids[1]
    assert star("alice", ids[1])[1]["message"]["starred"] is True  # again: no change, nothing pushed
    status, body = unstar("alice", ids[1])
    assert status == 200 and body["message"]["starred"] is False
    star("alice", ids[1])
    streams.drain()

    for device in ("alice-phone", "alice-laptop"):
        pushed = updates(management_api, device)
        assert [(f["data"]["message"]["id"], f["data"]["message"]["starred"]) for f in pushed] == [
            (ids[1], True), (ids[1], False), (ids[1], True)
        ]
        assert len({f["id"] for f in pushed}) == 3
    assert updates(management_api, "bob-phone") == []  # stars are private
    synced = [e for e in sync_all("alice")[0] if e["type"] == "message_updated"]
    assert [e["id"] for e in synced] == [f["id"] for f in updates(management_api, "alice-phone")]
    assert all(e["data"]["message"]["starred"] for e in synced)  # rebuilt as it is now: starred
    assert [e for e in sync_all("bob")[0] if e["type"] == "message_updated"] == []
    assert [e["data"]["message"]["starred"] for e in sync_all("alice")[0] if e["type"] == "new_message"] == [
        False, True, False
    ]


def test_messages_show_the_callers_own_star_on_every_read_path(chat, streams, management_api):
    """history (also a page cached for both participants), search, find-by-id answers and later pushes."""
    conversation_id, ids = chat
    connect("alice", "alice-phone")

    def starred_in_history(user):
        return {m["id"]: m["starred"] for m in history(user, conversation_id)[1]["messages"]}

    assert starred_in_history("bob") == dict.fromkeys(ids, False)  # fills the shared cached page
    star("alice", ids[0])
    star("bob", ids[2])
    DYNAMODB_GRANTS.calls.clear()
    for _ in range(2):  # a miss (the stars invalidated the page), then a hit: each caller's own stars
        assert starred_in_history("alice") == {ids[0]: True, ids[1]: False, ids[2]: False}
        assert starred_in_history("bob") == {ids[0]: False, ids[1]: False, ids[2]: True}
    assert DYNAMODB_GRANTS.calls[("list_messages", "messages", "Query")] == 1
    streams.drain()
    assert [r["message"]["starred"] for r in search("alice", "lunch")[1]["results"]] == [True]
    assert [r["message"]["starred"] for r in search("bob", "lunch")[1]["results"]] == [False]
    assert react("bob", ids[0], "👍")[1]["message"]["starred"] is False  # bob's view
    assert react("alice", ids[0], "🎉")[1]["message"]["starred"] is True
    assert [f["data"]["message"]["starred"] for f in updates(management_api, "alice-phone")][-2:] == [True, True]
    assert [e["message"]["starred"] for e in starred("alice")[1]["starred"]] == [True]
    unstar("alice", ids[0])
    assert starred_in_history("alice")[ids[0]] is False and starred("alice")[1]["starred"] == []


def test_a_deleted_message_cannot_be_starred_but_can_be_unstarred(chat):
    _conversation_id, ids = chat
    star("bob", ids[0])
    delete("alice", ids[0])
    assert star("bob", ids[1])[0] == 200 and star("alice", ids[0])[0] == 400
    status, body = unstar("bob", ids[0])
    assert status == 200 and body["message"]["deleted"] and body["message"]["starred"] is False
    assert [e["message"]["id"] for e in starred("bob")[1]["starred"]] == [ids[1]]


# -- unread counts ---------------------------------------------------------------------------------------


def test_unread_counts_rise_fall_and_never_count_ones_own_messages(chat, streams):
    conversation_id, _ids = chat
    other = start("bob", "carol")
    send("carol", other, "hey", "k1")
    streams.drain()
    # bob: alice's last (his reply read the one before it) and carol's; alice: none (her message came last).
    assert unread("bob") == (200, {"unread_count": 2})
    assert unread("alice") == (200, {"unread_count": 0})
    http_mark_read("bob", conversation_id)
    assert unread("bob") == (200, {"unread_count": 1})
    send("bob", other, "hi", "k2")  # replying reads it
    assert unread("bob") == (200, {"unread_count": 0})


# -- search ----------------------------------------------------------------------------------------------


def test_search_finds_the_callers_messages_case_and_accent_insensitively_newest_first(chat, streams):
    conversation_id, ids = chat
    other = start("bob", "carol")
    send("carol", other, "lunch tomorrow?", "k1")
    send("dave", start("dave", "carol"), "lunch with bob", "d1")  # not bob's
    streams.drain()
    status, body = search("bob", "LUNCH")
    assert status == 200
    found = [(r["message"]["content"], r["conversation"]["id"]) for r in body["results"]]
    assert found == [("lunch tomorrow?", other), ("Lunch at the Café Müller?", conversation_id)]
    assert [r["message"]["content"] for r in search("bob", "cafe mull")[1]["results"]] == ["Lunch at the Café Müller?"]
    assert search("bob", "muller noon")[1]["results"] == []  # every term, in one message
    page = search("bob", "lunch", limit="1")[1]
    assert len(page["results"]) == 1 and page["next_cursor"]
    rest = search("bob", "lunch", limit="1", cursor=page["next_cursor"])[1]
    assert [r["message"]["content"] for r in page["results"] + rest["results"]] == [f[0] for f in found]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("q", ['"', "NOT", "a OR b", "*", "NEAR(", "\x00", "🙂", "'; DROP TABLE", "é" * 256])
def test_query_text_is_never_syntax(chat, q):
    assert search("bob", q)[0] == 200


@pytest.mark.parametrize("q, limit, cursor", [(None, None, None), ("", None, None), ("x" * 257, None, None), ("a", "0", None), ("a", None, "bad")])
def test_bad_search_requests_are_400s(chat, q, limit, cursor):
    query = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
    assert search("bob", q, **query)[0] == 400
