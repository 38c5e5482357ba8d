"""Typing and presence with real WebSocket clients through `parley local` (or a deployed stack)."""

from __future__ import annotations

import pytest

from tests.e2e.test_messaging_e2e import alice_and_bob, client, run

pytestmark = pytest.mark.e2e


def of(event_type: str, **data):
    return lambda frame: frame.get("type") == event_type and all(frame["data"].get(k) == v for k, v in data.items())


def test_typing_shows_on_every_device_of_the_peer_and_outsiders_cannot_type(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        alice_ws, bob_phone, bob_laptop = await alice.connect(), await bob.connect(), await bob.connect()
        await alice_ws.send({"action": "typing", "conversation_id": conversation_id, "state": "start"})
        for device in (bob_phone, bob_laptop):
            frame = await device.next(of("typing", user_id=users["alice"], state="start"))
            assert frame["conversation_id"] == conversation_id
        status, _ = await alice.request("POST", f"/conversations/{conversation_id}/typing/stop")
        assert status == 204
        await bob_phone.next(of("typing", user_id=users["alice"], state="stop"))

        mallory = client(session, target, users["carol"])
        mallory_ws = await mallory.connect()
        await mallory_ws.send({"action": "typing", "conversation_id": conversation_id, "state": "start"})
        error = await mallory_ws.next(lambda f: f["type"] == "error")
        assert error["data"]["error"]["code"] == "conversation_not_found"
        status, body = await mallory.request("POST", f"/conversations/{conversation_id}/typing/start")
        assert status == 404 and body["error"]["code"] == "conversation_not_found"
        for ws in (alice_ws, bob_phone, bob_laptop, mallory_ws):
            await ws.close()

    run(scenario)


def test_presence_goes_online_then_offline_with_last_seen_and_only_peers_see_it(target, users):
    async def scenario(session):
        alice, bob, _ = await alice_and_bob(session, target, users)
        bob_ws = await bob.connect()
        alice_ws = await alice.connect()
        await bob_ws.next(of("presence", user_id=users["alice"], status="online"))
        status, body = await bob.request("GET", f"/users/{users['alice']}/presence")
        assert status == 200 and body["presence"]["status"] == "online"
        await alice_ws.send({"action": "ping"})
        assert (await alice_ws.next(lambda f: f["type"] == "pong"))["type"] == "pong"

        await alice_ws.close()
        offline = await bob_ws.next(of("presence", user_id=users["alice"], status="offline"))
        assert offline["data"]["last_seen"]
        status, body = await bob.request("GET", "/users/presence/bulk", params={"ids": f"{users['alice']},{users['carol']}"})
        assert status == 200 and body["presence"] == [offline["data"]]  # carol shares nothing with bob: left out

        carol = client(session, target, users["carol"])
        status, body = await carol.request("GET", f"/users/{users['alice']}/presence")
        assert status == 404 and body["error"]["code"] == "not_found"
        await bob_ws.close()

    run(scenario)
