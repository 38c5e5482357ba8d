"""Two users with real WebSocket and HTTP clients against a running Parley (see conftest.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import pytest

from tests.support.client import ParleyClient, of_type

pytestmark = pytest.mark.e2e


def run(scenario):
    async def main():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            return await scenario(session)

    return asyncio.run(main())


def client(session, target, user_id, token=None) -> ParleyClient:
    return ParleyClient(session, target.http_url, target.ws_url, token or target.token(user_id))


async def alice_and_bob(session, target, users) -> tuple[ParleyClient, ParleyClient, str]:
    """Clients for alice and bob, and the conversation alice started with bob."""
    alice, bob = client(session, target, users["alice"]), client(session, target, users["bob"])
    return alice, bob, await alice.start_conversation(users["bob"])


def test_alice_sends_over_the_socket_and_over_http_and_bob_receives_within_a_second(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        alice_ws, bob_ws = await alice.connect(), await bob.connect()

        sent_at = time.perf_counter()
        await alice_ws.send_message(conversation_id, "over the socket", client_message_id="ws-1")
        ack = await alice_ws.next(of_type("message_ack"))
        pushed = await bob_ws.next(of_type("new_message", client_message_id="ws-1"), timeout=1.0)
        assert time.perf_counter() - sent_at < 1.0
        assert ack["data"]["message"] == pushed["data"]["message"]
        assert pushed["data"]["message"]["sender_id"] == users["alice"]
        assert pushed["data"]["message"]["status"] == "sent"

        sent_at = time.perf_counter()
        status, body = await alice.send(conversation_id, "over http", client_message_id="http-1")
        assert status == 201
        pushed = await bob_ws.next(of_type("new_message", client_message_id="http-1"), timeout=1.0)
        assert time.perf_counter() - sent_at < 1.0
        assert pushed["data"]["message"] == body["message"]
        # The sender's own socket hears of the HTTP send too (her other device).
        assert (await alice_ws.next(of_type("new_message", client_message_id="http-1")))["data"]["message"]["id"] == body["message"]["id"]

        status, page = await bob.request("GET", f"/conversations/{conversation_id}/messages")
        assert [m["content"] for m in page["messages"]] == ["over http", "over the socket"]
        await alice_ws.close()
        await bob_ws.close()

    run(scenario)


def test_every_device_of_the_recipient_receives(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        phone, laptop = await bob.connect(), await bob.connect()
        await alice.send(conversation_id, "to all your devices", client_message_id="multi")
        for socket in (phone, laptop):
            assert (await socket.next(of_type("new_message", client_message_id="multi")))["data"]["message"]["content"] == "to all your devices"
            await socket.close()

    run(scenario)


def test_a_third_user_can_neither_read_nor_write_nor_overhear(target, users):
    async def scenario(session):
        alice, carol = client(session, target, users["alice"]), client(session, target, users["carol"])
        conversation_id = await alice.start_conversation(users["bob"])
        carol_ws = await carol.connect()
        await alice.send(conversation_id, "just for bob", client_message_id="secret")

        for method, path, body in (
            ("GET", f"/conversations/{conversation_id}", None),
            ("GET", f"/conversations/{conversation_id}/messages", None),
            ("POST", f"/conversations/{conversation_id}/messages", {"client_message_id": "x", "content": "hi"}),
        ):
            status, answer = await carol.request(method, path, json_body=body)
            assert status == 404 and answer["error"]["code"] == "conversation_not_found"

        await carol_ws.send_message(conversation_id, "let me in", client_message_id="intrude")
        error = await carol_ws.next(of_type("error"))
        assert error["data"]["error"]["code"] == "conversation_not_found"
        assert error["data"]["client_message_id"] == "intrude"
        status, listing = await carol.request("GET", "/conversations")
        assert status == 200 and listing["conversations"] == []
        await asyncio.sleep(0.3)
        assert not [f for _, f in carol_ws.frames if f["type"] == "new_message"]
        status, page = await alice.request("GET", f"/conversations/{conversation_id}/messages")
        assert [m["content"] for m in page["messages"]] == ["just for bob"]
        await carol_ws.close()

    run(scenario)


def test_a_bad_token_cannot_connect(target, users):
    async def scenario(session):
        for params in ({}, {"token": "not-a-jwt"}, {"token": target.token(users["alice"], ttl_seconds=-600)}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(target.ws_url, params=params)
            assert refused.value.status in (401, 403)

    run(scenario)


def test_http_without_a_valid_token_is_401(target, users):
    async def scenario(session):
        async with session.get(target.http_url + "/conversations") as response:
            assert response.status == 401
        expired = client(session, target, users["alice"], token=target.token(users["alice"], ttl_seconds=-600))
        status, body = await expired.request("GET", "/conversations")
        assert status == 401 and body["error"]["code"] == "unauthorized"
        forged = client(session, target, users["alice"], token="eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
        assert (await forged.request("GET", "/conversations"))[0] == 401

    run(scenario)


def test_history_pages_newest_first(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        for i in range(75):
            status, _ = await (alice if i % 2 else bob).send(conversation_id, f"m{i:02d}", client_message_id=f"h{i}")
            assert status == 201
        status, first = await bob.request("GET", f"/conversations/{conversation_id}/messages")
        assert status == 200 and len(first["messages"]) == 50 and first["next_cursor"]
        status, second = await bob.request(
            "GET", f"/conversations/{conversation_id}/messages", params={"cursor": first["next_cursor"]}
        )
        assert second["next_cursor"] is None
        contents = [m["content"] for m in first["messages"] + second["messages"]]
        assert contents == [f"m{i:02d}" for i in reversed(range(75))]
        status, small = await bob.request("GET", f"/conversations/{conversation_id}/messages", params={"limit": "10"})
        assert [m["content"] for m in small["messages"]] == contents[:10]

    run(scenario)


def test_a_retried_send_does_not_duplicate(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        first = await alice.send(conversation_id, "once", client_message_id="retry-1")
        again = await alice.send(conversation_id, "once", client_message_id="retry-1")
        assert (first[0], again[0]) == (201, 200) and first[1] == again[1]

        alice_ws = await alice.connect()
        await alice_ws.send_message(conversation_id, "once more", client_message_id="retry-2")
        await alice_ws.send_message(conversation_id, "once more", client_message_id="retry-2")
        acks = [await alice_ws.next(of_type("message_ack")) for _ in range(2)]
        assert acks[0]["data"]["message"]["id"] == acks[1]["data"]["message"]["id"]
        assert sorted(a["data"]["duplicate"] for a in acks) == [False, True]

        status, page = await bob.request("GET", f"/conversations/{conversation_id}/messages")
        assert [m["content"] for m in page["messages"]] == ["once more", "once"]
        await alice_ws.close()

    run(scenario)


def test_a_message_to_an_offline_user_is_there_when_they_come_back(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        bob_ws = await bob.connect()
        await bob_ws.close()  # bob goes offline
        await alice.send(conversation_id, "while you were away", client_message_id="offline-1")
        # Bob's row is moved by a stream consumer a moment after the send.
        for _ in range(100):
            status, listing = await bob.request("GET", "/conversations")
            if listing["conversations"][0]["last_message"]:
                break
            await asyncio.sleep(0.1)
        assert listing["conversations"][0]["id"] == conversation_id
        assert listing["conversations"][0]["last_message"]["preview"] == "while you were away"
        status, page = await bob.request("GET", f"/conversations/{conversation_id}/messages")
        assert page["messages"][0]["content"] == "while you were away"

    run(scenario)


def test_unknown_actions_and_bad_frames_get_error_frames_and_the_connection_stays_open(target, users):
    async def scenario(session):
        alice = client(session, target, users["alice"])
        ws = await alice.connect()
        await ws.send_off_contract({"action": "teleport"})
        assert (await ws.next(of_type("error")))["data"]["error"]["code"] == "bad_request"
        await ws.send_off_contract("this is not json")
        assert (await ws.next(of_type("error")))["data"]["error"]["code"] == "bad_request"
        await ws.send_off_contract({"action": "sendMessage", "conversation_id": "dm_" + "0" * 32, "client_message_id": "c", "content": "x" * 5000})
        assert (await ws.next(of_type("error")))["data"]["error"]["code"] == "bad_request"
        await ws.send({"action": "ping"})
        assert (await ws.next(of_type("pong")))["type"] == "pong"
        assert not ws.closed
        await ws.close()

    run(scenario)


def test_conversations_list_follows_activity(target, users):
    async def scenario(session):
        alice = client(session, target, users["alice"])
        first = await alice.start_conversation(users["bob"])
        second = await alice.start_conversation(users["carol"])
        status, listing = await alice.request("GET", "/conversations")
        assert [c["id"] for c in listing["conversations"]] == [second, first]
        await alice.send(first, "bump", client_message_id=uuid.uuid4().hex)
        status, listing = await alice.request("GET", "/conversations")
        assert [c["id"] for c in listing["conversations"]] == [first, second]
        status, one = await alice.request("GET", "/conversations", params={"limit": "1"})
        status, rest = await alice.request("GET", "/conversations", params={"cursor": one["next_cursor"]})
        assert [c["id"] for c in one["conversations"] + rest["conversations"]] == [first, second]
        assert rest["next_cursor"] is None

    run(scenario)
