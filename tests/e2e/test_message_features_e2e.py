"""Issue 7 with real HTTP and WebSocket clients against `parley local`: reactions, replies, stars,
deletes, unread counts and search (the index built by its own stream consumer), and what a third user
can do with any of it (nothing, and the error says nothing)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_messaging_e2e import alice_and_bob, client, run
from tests.e2e.test_spine_e2e import eventually
from tests.support.client import of_type

pytestmark = pytest.mark.e2e


async def everything_bob_can_read(bob, conversation_id: str, queries: list[str]) -> str:
    """Every read path bob's client has, as one string to search."""
    reads = [
        await bob.request("GET", f"/conversations/{conversation_id}/messages"),
        await bob.request("GET", "/conversations"),
        await bob.request("GET", f"/conversations/{conversation_id}"),
        await bob.request("GET", "/messages/starred"),
        await bob.request("GET", "/sync"),
    ]
    reads += [await bob.request("GET", "/messages/search", params={"q": q}) for q in queries]
    return json.dumps(reads, ensure_ascii=False)


def test_reactions_replies_stars_and_unread_counts_end_to_end(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        bob_ws = await bob.connect()
        status, body = await alice.send(conversation_id, "Dinner at Chez Léon?", client_message_id="q1")
        question = body["message"]["id"]
        await bob_ws.next(of_type("new_message"))

        status, body = await alice.request("GET", "/conversations/unread-count")
        assert (status, body) == (200, {"unread_count": 0})

        async def bob_unread():
            status, body = await bob.request("GET", "/conversations/unread-count")
            return body["unread_count"] == 1

        assert await eventually(bob_unread)

        status, body = await alice.request("POST", f"/messages/{question}/reactions", json_body={"emoji": "👍🏽"})
        assert status == 200 and body["message"]["reactions"] == [{"user_id": users["alice"], "emoji": "👍🏽"}]
        frame = await bob_ws.next(of_type("message_updated"))
        assert frame["data"]["message"]["reactions"] == body["message"]["reactions"]
        assert (await alice.request("POST", f"/messages/{question}/reactions", json_body={"emoji": "👍👍"}))[0] == 400
        # Removing the last reaction leaves the message able to take one again.
        assert (await alice.request("DELETE", f"/messages/{question}/reactions"))[0] == 200
        status, body = await alice.request("POST", f"/messages/{question}/reactions", json_body={"emoji": "👍🏽"})
        assert status == 200 and body["message"]["reactions"] == [{"user_id": users["alice"], "emoji": "👍🏽"}]

        status, body = await bob.request(
            "POST",
            f"/conversations/{conversation_id}/messages",
            json_body={"client_message_id": "a1", "type": "text", "content": "yes!", "reply_to": question},
        )
        assert status == 201 and body["message"]["reply_to"]["preview"] == "Dinner at Chez Léon?"

        assert (await bob.request("POST", f"/messages/{question}/star"))[0] == 200
        status, body = await bob.request("GET", "/messages/starred")
        assert [entry["message"]["id"] for entry in body["starred"]] == [question]
        assert (await alice.request("GET", "/messages/starred"))[1]["starred"] == []  # private

        status, body = await bob.request("PATCH", f"/conversations/{conversation_id}/read")
        assert (await bob.request("GET", "/conversations/unread-count"))[1] == {"unread_count": 0}
        history = (await alice.request("GET", f"/conversations/{conversation_id}/messages"))[1]["messages"]
        assert history[-1]["reactions"] == [{"user_id": users["alice"], "emoji": "👍🏽"}]
        await bob_ws.close()

    run(scenario)


def test_a_star_reaches_the_starrers_other_devices_and_sync_and_no_one_else(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        alice_phone, alice_laptop, bob_ws = await alice.connect(), await alice.connect(), await bob.connect()
        message_id = (await bob.send(conversation_id, "the tickets are for Friday", client_message_id="t1"))[1][
            "message"
        ]["id"]
        status, body = await alice.request("POST", f"/messages/{message_id}/star")
        assert status == 200 and body["message"]["starred"] is True
        for device in (alice_phone, alice_laptop):
            frame = await device.next(of_type("message_updated", id=message_id))
            assert frame["data"]["message"]["starred"] is True and frame["id"].startswith("upd:")
        star_event_id = frame["id"]
        # bob hears of a later change (alice's reaction) and never of the star.
        await alice.request("POST", f"/messages/{message_id}/reactions", json_body={"emoji": "🎟️"})
        reaction = await bob_ws.next(of_type("message_updated", id=message_id))
        assert reaction["data"]["message"]["starred"] is False and reaction["id"] != star_event_id
        assert not [f for _, f in bob_ws.frames if f["type"] == "message_updated"]
        assert (await alice_phone.next(of_type("message_updated", id=message_id)))["data"]["message"]["starred"]

        async def in_alices_sync():
            events = (await alice.request("GET", "/sync", params={"limit": "500"}))[1]["events"]
            return any(e["id"] == star_event_id and e["data"]["message"]["starred"] for e in events)

        assert await eventually(in_alices_sync)
        bob_events = (await bob.request("GET", "/sync", params={"limit": "500"}))[1]["events"]
        assert star_event_id not in [e["id"] for e in bob_events]
        assert not any((e["data"].get("message") or {}).get("starred") for e in bob_events)
        for user, expected in ((alice, True), (bob, False), (alice, True)):  # the history page is cached for both
            history = (await user.request("GET", f"/conversations/{conversation_id}/messages"))[1]["messages"]
            assert history[0]["id"] == message_id and history[0]["starred"] is expected

        status, body = await alice.request("DELETE", f"/messages/{message_id}/star")
        assert status == 200 and body["message"]["starred"] is False
        frame = await alice_laptop.next(of_type("message_updated", id=message_id, starred=False))
        assert frame["id"] != star_event_id
        history = (await alice.request("GET", f"/conversations/{conversation_id}/messages"))[1]["messages"]
        assert history[0]["starred"] is False
        for socket in (alice_phone, alice_laptop, bob_ws):
            await socket.close()

    run(scenario)


def test_search_is_per_user_accent_insensitive_and_follows_deletes(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        ids = []
        for i, text in enumerate(["Rendez-vous au café à midi", "the vault code is 4711", "café again"]):
            ids.append((await alice.send(conversation_id, text, client_message_id=f"s{i}"))[1]["message"]["id"])

        async def indexed():  # the index is written by its consumer, a moment after the send
            status, body = await bob.request("GET", "/messages/search", params={"q": "CAFE"})
            return status == 200 and [r["message"]["id"] for r in body["results"]] == [ids[2], ids[0]]

        assert await eventually(indexed)
        status, body = await bob.request("GET", "/messages/search", params={"q": "caf", "limit": "1"})
        assert body["results"][0]["conversation"]["id"] == conversation_id and body["next_cursor"]
        for q in ['"', "NOT", "a OR b", "*", "(", "🙂", "x" * 256]:
            assert (await bob.request("GET", "/messages/search", params={"q": q}))[0] == 200
        assert (await bob.request("GET", "/messages/search", params={"q": "x" * 257}))[0] == 400

        assert await eventually(lambda: _found(bob, "vault", ids[1]))
        assert (await alice.request("DELETE", f"/messages/{ids[1]}"))[0] == 200
        # At once, and after every consumer ran: the text is on none of bob's read paths.
        assert "vault" not in await everything_bob_can_read(bob, conversation_id, ["vault", "4711", "code"])

        async def consumers_ran():  # the delete reached bob's event log (and from there his index)
            status, body = await bob.request("GET", "/sync", params={"limit": "500"})
            return any(e["type"] == "message_updated" and e["data"]["message"]["id"] == ids[1] for e in body["events"])

        assert await eventually(consumers_ran)
        assert "vault" not in await everything_bob_can_read(bob, conversation_id, ["vault", "4711", "code"])

    run(scenario)


async def _found(user_client, q: str, message_id: str) -> bool:
    status, body = await user_client.request("GET", "/messages/search", params={"q": q})
    return status == 200 and any(r["message"]["id"] == message_id for r in body["results"])


def test_a_third_user_can_do_nothing_with_a_message_and_learns_nothing(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        carol = client(session, target, users["carol"])
        message_id = (await alice.send(conversation_id, "private plans", client_message_id="p1"))[1]["message"]["id"]
        never = f"{conversation_id}.999"
        for path_id in (message_id, never):
            answers = [
                await carol.request("POST", f"/messages/{path_id}/reactions", json_body={"emoji": "👍"}),
                await carol.request("DELETE", f"/messages/{path_id}/reactions"),
                await carol.request("POST", f"/messages/{path_id}/star"),
                await carol.request("DELETE", f"/messages/{path_id}/star"),
                await carol.request("DELETE", f"/messages/{path_id}"),
                await carol.request("DELETE", f"/messages/{path_id}", params={"for": "me"}),
            ]
            assert all(answer == (404, {"error": {"code": "message_not_found", "message": "message not found"}})
                       for answer in answers), answers
        assert (await carol.request("GET", "/messages/search", params={"q": "private"}))[1]["results"] == []
        assert (await carol.request("GET", "/conversations/unread-count"))[1] == {"unread_count": 0}
        assert (await bob.request("DELETE", f"/messages/{message_id}"))[0] == 403  # a participant, not the sender
        history = (await bob.request("GET", f"/conversations/{conversation_id}/messages"))[1]["messages"]
        assert history[0]["content"] == "private plans" and history[0]["reactions"] == []

    run(scenario)
