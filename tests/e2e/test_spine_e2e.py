"""The real-time layer with real WebSocket clients: offline sync, multi-device, receipts, dead sockets."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.test_messaging_e2e import alice_and_bob, client, run
from tests.support.client import of_type

pytestmark = pytest.mark.e2e


async def eventually(check, timeout: float = 30.0):
    """Derived state (the recipient's row, the event log) is written by consumers a moment after a send."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


async def sync_over_socket(socket, since, limit=100):
    """Every event after `since`, page by page over the socket; the pages and the final cursor."""
    pages = []
    while True:
        await socket.send({"action": "sync", "since": since, "limit": limit})
        frame = await socket.next(of_type("sync"), timeout=10)
        pages.append(frame["data"]["events"])
        since = frame["data"]["next_cursor"]
        if not frame["data"]["has_more"]:
            return pages, since


def test_an_offline_recipient_syncs_200_messages_exactly_once_in_order_across_pages(target, users):
    async def scenario(session):
        alice, bob, with_alice = await alice_and_bob(session, target, users)
        carol = client(session, target, users["carol"])
        with_carol = await carol.start_conversation(users["bob"])
        bob_ws = await bob.connect()
        _, cursor = await sync_over_socket(bob_ws, None)
        await bob_ws.close()  # bob goes offline; 100 messages from each of two people arrive meanwhile
        sent = {with_alice: [], with_carol: []}
        for i in range(100):
            for sender, conversation_id in ((alice, with_alice), (carol, with_carol)):
                status, body = await sender.send(conversation_id, f"{i:03d}", client_message_id=f"away-{i}")
                assert status == 201, body
                sent[conversation_id].append(body["message"]["id"])

        async def logged():  # the event log is appended by a consumer a moment after each send
            events, since = 0, cursor
            while True:
                status, page = await bob.request("GET", "/sync", params={"since": since, "limit": "500"})
                events += len(page["events"])
                since = page["next_cursor"]
                if not page["has_more"]:
                    return events == 200

        assert await eventually(logged)
        bob_ws = await bob.connect()
        pages, cursor = await sync_over_socket(bob_ws, cursor, limit=60)
        assert len(pages) >= 4  # 200 events in pages of at most 60
        events = [event for page in pages for event in page]
        assert len(events) == 200 and len({e["id"] for e in events}) == 200
        for conversation_id, ids in sent.items():
            assert [e["data"]["message"]["id"] for e in events if e["conversation_id"] == conversation_id] == ids
        # Caught up: the same cursor over HTTP finds nothing new.
        status, rest = await bob.request("GET", "/sync", params={"since": cursor})
        assert status == 200 and rest["events"] == [] and rest["has_more"] is False
        await bob_ws.close()

    run(scenario)


def test_three_devices_of_a_user_all_receive_and_the_sending_device_gets_an_ack(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        phone, laptop, tablet = await alice.connect(), await alice.connect(), await alice.connect()
        bob_ws = await bob.connect()
        await bob.send(conversation_id, "to every device", client_message_id="fan")
        for device in (phone, laptop, tablet):
            assert (await device.next(of_type("new_message", client_message_id="fan")))["data"]["message"]["sender_id"] == users["bob"]
        await phone.send_message(conversation_id, "from my phone", client_message_id="mine")
        ack = await phone.next(of_type("message_ack"))
        for device in (laptop, tablet, bob_ws):
            pushed = await device.next(of_type("new_message", client_message_id="mine"))
            assert pushed["data"]["message"] == ack["data"]["message"]
        await asyncio.sleep(0.3)
        assert not [f for _, f in phone.frames if f["type"] == "new_message"]  # acknowledged, not echoed
        for socket in (phone, laptop, tablet, bob_ws):
            await socket.close()

    run(scenario)


def test_receipts_flow_sent_delivered_read_live_and_in_history(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        alice_ws, bob_ws = await alice.connect(), await bob.connect()
        await alice_ws.send_message(conversation_id, "did you get this?", client_message_id="r1")
        message = (await alice_ws.next(of_type("message_ack")))["data"]["message"]
        assert message["status"] == "sent"
        pushed = await bob_ws.next(of_type("new_message", client_message_id="r1"))

        await bob_ws.send({"action": "ack", "conversation_id": conversation_id, "message_id": pushed["data"]["message"]["id"]})
        delivered = await alice_ws.next(of_type("receipt"))
        assert delivered["data"] == {"user_id": users["bob"], "status": "delivered", "up_to_message_id": message["id"], "up_to_seq": message["seq"]}
        status, page = await alice.request("GET", f"/conversations/{conversation_id}/messages")
        assert page["messages"][0]["status"] == "delivered"

        status, body = await bob.request("PATCH", f"/conversations/{conversation_id}/read", json_body={"message_id": message["id"]})
        assert status == 200 and body["conversation"]["unread_count"] == 0
        read = await alice_ws.next(of_type("receipt"))
        assert read["data"]["status"] == "read" and read["data"]["up_to_message_id"] == message["id"]
        status, page = await alice.request("GET", f"/conversations/{conversation_id}/messages")
        assert page["messages"][0]["status"] == "read"

        # Alice's log has the same receipts, with the same ids, for her devices that were away.
        async def receipts_logged():
            status, synced = await alice.request("GET", "/sync")
            return [e for e in synced["events"] if e["type"] == "receipt"]

        logged = await eventually(lambda: _at_least(receipts_logged, 2))
        assert [e["id"] for e in logged] == [delivered["id"], read["id"]]
        await alice_ws.close()
        await bob_ws.close()

    run(scenario)


async def _at_least(check, count):
    found = await check()
    return found if len(found) >= count else None


def test_a_device_killed_without_a_close_frame_does_not_hold_up_the_live_one(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        dead, live = await bob.connect(), await bob.connect()
        dead.ws._response.connection.transport.abort()  # gone, no close frame
        for i in range(3):
            sent_at = time.perf_counter()
            await alice.send(conversation_id, f"still here {i}", client_message_id=f"k{i}")
            await live.next(of_type("new_message", client_message_id=f"k{i}"), timeout=2)
            assert time.perf_counter() - sent_at < 2
        await live.close()

    run(scenario)


def test_an_outsider_can_neither_ack_nor_read_nor_sync_someone_elses_events(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        carol = client(session, target, users["carol"])
        alice_ws, carol_ws = await alice.connect(), await carol.connect()
        status, body = await alice.send(conversation_id, "for bob", client_message_id="o1")
        message_id = body["message"]["id"]
        for action in ("ack", "read"):
            await carol_ws.send({"action": action, "conversation_id": conversation_id, "message_id": message_id})
            assert (await carol_ws.next(of_type("error")))["data"]["error"]["code"] == "conversation_not_found"
        status, answer = await carol.request("PATCH", f"/conversations/{conversation_id}/read", json_body={})
        assert status == 404 and answer["error"]["code"] == "conversation_not_found"
        await asyncio.sleep(0.3)
        assert not [f for _, f in alice_ws.frames if f["type"] == "receipt"]
        status, page = await alice.request("GET", f"/conversations/{conversation_id}/messages")
        assert page["messages"][0]["status"] == "sent"
        status, synced = await carol.request("GET", "/sync")
        assert status == 200 and synced["events"] == []
        await alice_ws.close()
        await carol_ws.close()

    run(scenario)
