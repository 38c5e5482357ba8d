"""Media end to end: a presigned POST straight to the (local) S3, processed by its S3-triggered function,
the uploader told over the socket, the rendition downloaded through a presigned link."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import pytest
from PIL import Image

from tests.e2e.test_messaging_e2e import alice_and_bob, client
from tests.support import media_files
from tests.support.client import of_type

pytestmark = pytest.mark.e2e


def run(scenario):
    async def main():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            return await scenario(session)

    return asyncio.run(main())


def _form(upload: dict, data: bytes, content_type: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in upload["fields"].items():
        form.add_field(name, value)
    form.add_field("file", data, filename="upload", content_type=content_type)
    return form


async def _upload(session, user_client, kind: str, data: bytes, content_type: str, **extra) -> tuple[dict, int, str]:
    status, grant = await user_client.request(
        "POST", f"/messages/upload-{kind}", json_body={"content_type": content_type, "size": len(data), **extra}
    )
    assert status == 201, grant
    form = _form(grant["upload"], data, content_type)
    async with session.post(grant["upload"]["url"], data=form, headers={"Origin": "http://localhost:8000"}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"  # a web page may post it and read the answer
        return grant, response.status, await response.text()


def test_a_photo_goes_from_presigned_post_to_processed_to_attached_to_downloaded_by_the_recipient(target, users):
    async def scenario(session):
        alice, bob, conversation_id = await alice_and_bob(session, target, users)
        carol = client(session, target, users["carol"])
        alice_ws, bob_ws = await alice.connect(), await bob.connect()

        photo = media_files.jpeg_with_gps_and_orientation_6()
        grant, status, _ = await _upload(session, alice, "image", photo, "image/jpeg", quality="hd")
        assert status == 204  # stored by the (local) S3 itself, as S3 answers a form upload
        media_id = grant["media"]["id"]
        ready = await alice_ws.next(of_type("media_ready"), timeout=30)
        assert ready["data"]["media"]["id"] == media_id
        assert (await bob.request("GET", f"/media/{media_id}"))[0] == 404  # not sent to bob yet

        await alice_ws.send(
            {"action": "sendMessage", "conversation_id": conversation_id, "client_message_id": "photo-1",
             "type": "image", "media_id": media_id, "content": "the view"}
        )
        await alice_ws.next(of_type("message_ack"))
        pushed = await bob_ws.next(of_type("new_message", client_message_id="photo-1"), timeout=5)
        (attachment,) = pushed["data"]["message"]["attachments"]
        assert (attachment["width"], attachment["height"]) == (800, 1200)
        assert attachment["placeholder"] and set(attachment["renditions"]) == {"standard", "hd", "thumbnail"}

        status, links = await bob.request("GET", f"/media/{media_id}")
        assert status == 200
        async with session.get(links["urls"]["hd"]) as response:
            assert response.status == 200
            image = Image.open(io.BytesIO(await response.read()))
        assert image.size == (800, 1200) and not image.getexif()
        assert image.size == (attachment["renditions"]["hd"]["width"], attachment["renditions"]["hd"]["height"])

        # A third user gets no link, and cannot fetch through bob's by guessing another key.
        assert (await carol.request("GET", f"/media/{media_id}"))[0] == 404
        forged = links["urls"]["hd"].replace("hd.jpg", "standard.jpg")
        async with session.get(forged) as response:
            assert response.status == 403

        # Deleted for everyone: the tombstone carries no attachment, and the media is gone for good.
        message_id = pushed["data"]["message"]["id"]
        assert (await alice.request("DELETE", f"/messages/{message_id}"))[0] == 200
        updated = await bob_ws.next(of_type("message_updated"), timeout=5)
        assert updated["data"]["message"]["deleted"] and "attachments" not in updated["data"]["message"]
        assert (await bob.request("GET", f"/media/{media_id}"))[0] == 404
        async with session.get(links["urls"]["hd"]) as response:
            assert response.status in (403, 404)  # S3's answer for a missing key to those who may not list

    run(scenario)


def test_the_local_s3_itself_refuses_an_upload_outside_its_grant(target, users):
    async def scenario(session):
        alice = client(session, target, users["alice"])
        alice_ws = await alice.connect()
        data = media_files.jpeg(media_files.photo(300, 200))

        status, grant = await alice.request(
            "POST", "/messages/upload-image", json_body={"content_type": "image/jpeg", "size": len(data)}
        )
        upload = grant["upload"]
        async with session.post(upload["url"], data=_form(upload, data + b"more", "image/jpeg")) as response:
            assert response.status == 400 and "<Code>EntityTooLarge</Code>" in await response.text()
        wrong_type = {**upload, "fields": {**upload["fields"], "Content-Type": "text/html"}}
        async with session.post(upload["url"], data=_form(wrong_type, data, "text/html")) as response:
            assert response.status == 403 and "Policy Condition failed" in await response.text()
        # Nothing was stored, so nothing was processed.
        with pytest.raises(TimeoutError):
            await alice_ws.next(of_type("media_ready"), timeout=1)

        status, _ = await alice.request(
            "POST", "/messages/upload-image", json_body={"content_type": "image/jpeg", "size": 6 * 1024 * 1024}
        )
        assert status == 413

    run(scenario)


def test_a_rejected_upload_tells_the_uploader(target, users):
    async def scenario(session):
        alice = client(session, target, users["alice"])
        alice_ws = await alice.connect()
        grant, status, _ = await _upload(session, alice, "image", media_files.PHP_SCRIPT, "image/jpeg")
        assert status == 204
        rejected = await alice_ws.next(of_type("media_rejected"), timeout=30)
        assert rejected["data"]["media"] == {**grant["media"], "status": "rejected", "reason": "not_an_image"}

    run(scenario)
