"""Media through the real handlers against moto: grants, S3-triggered processing, pushes, download links."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from functions import start_conversation, ws_connect
from shared import wiring
from shared.domain import errors
from shared.config import media_bucket
from shared.media import keys
from shared.storage.repositories.media import MediaRepository
from tests.support import media_files
from tests.support.calls import (
    ack,
    connect,
    conversations,
    delete,
    history,
    http_mark_read,
    send,
    star,
    starred,
    sync_all,
)
from tests.support.events import http_event, parse, ws_event
from tests.support.media_calls import deliver, get, grant, object_keys, upload_and_process

pytestmark = pytest.mark.component


@pytest.fixture
def media_backend(backend):
    connect("alice", "alice-phone")
    return backend


def test_a_grant_is_a_presigned_post_for_exactly_the_declared_upload(media_backend) -> None:
    answer = grant("alice", "image", b"x" * 1234, "image/jpeg", quality="hd")
    assert answer["media"]["status"] == "pending"
    fields = answer["upload"]["fields"]
    assert fields["key"] == keys.upload_key("image", answer["media"]["id"])
    assert fields["Content-Type"] == "image/jpeg"
    assert answer["upload"]["url"].endswith(f"/{media_bucket()}")


def test_an_uploaded_photo_becomes_ready_with_clean_renditions_and_the_owner_is_told(media_backend) -> None:
    media_id = upload_and_process("alice", "image", media_files.jpeg_with_gps_and_orientation_6(), "image/jpeg", quality="hd")

    status, body = get("alice", media_id)
    assert status == 200
    media = body["media"]
    assert media["status"] == "ready"
    assert (media["width"], media["height"]) == (800, 1200)
    assert set(media["renditions"]) == {"standard", "hd", "thumbnail"}
    assert media["placeholder"]
    assert object_keys() == {keys.rendition_key(media_id, f"{n}.jpg") for n in ("standard", "hd", "thumbnail")}
    stored = wiring.media().store.read(keys.rendition_key(media_id, "hd.jpg"), 10_000_000)
    assert not Image.open(io.BytesIO(stored)).getexif()

    frames = media_backend.frames("alice-phone")
    assert [(f["type"], f["data"]["media"]["id"], f["data"]["media"]["status"]) for f in frames] == [
        ("media_ready", media_id, "ready")
    ]


def test_a_redelivered_event_changes_nothing_twice(media_backend) -> None:
    data = media_files.jpeg(media_files.photo(640, 480))
    media_id = upload_and_process("alice", "image", data, "image/jpeg")
    before = get("alice", media_id)[1]["media"]
    renditions = object_keys()

    deliver("image", media_id, None)  # S3 delivers at least once: the same event again
    deliver("image", media_id, data, "image/jpeg")  # even with the upload stored again

    assert get("alice", media_id)[1]["media"] == before
    assert object_keys() == renditions
    assert len(media_backend.frames("alice-phone")) == 1


def test_a_rejected_upload_is_deleted_and_the_owner_is_told_why(media_backend) -> None:
    media_id = upload_and_process("alice", "image", media_files.PHP_SCRIPT, "image/jpeg")

    assert object_keys() == set()
    (frame,) = media_backend.frames("alice-phone")
    assert frame["type"] == "media_rejected"
    assert frame["data"]["media"]["reason"] == "not_an_image"
    # A device that missed the push can ask; there is nothing to download.
    assert get("alice", media_id) == (200, {"media": frame["data"]["media"], "urls": {}, "expires_at": None})
    assert get("bob", media_id)[0] == 404


def test_an_upload_nobody_was_granted_is_deleted(media_backend) -> None:
    deliver("image", "01JZZZZZZZZZZZZZZZZZZZZZZZ", b"whatever", "image/jpeg")
    assert object_keys() == set()
    assert media_backend.frames("alice-phone") == []


def test_a_voice_note_gets_its_duration(media_backend) -> None:
    media_id = upload_and_process("alice", "audio", media_files.fixture("live.webm"), "audio/webm")
    media = get("alice", media_id)[1]["media"]
    assert media["status"] == "ready" and media["content_type"] == "audio/webm"
    assert 3400 < media["duration_ms"] < 3700
    assert object_keys() == {keys.rendition_key(media_id, "original")}


def test_a_file_keeps_its_name_and_downloads_as_an_attachment(media_backend) -> None:
    media_id = upload_and_process("alice", "file", media_files.minimal_pdf(), "application/pdf", file_name="Q3 report.pdf")
    status, body = get("alice", media_id)
    assert status == 200 and body["media"]["file_name"] == "Q3 report.pdf"
    assert "attachment" in body["urls"]["original"] and "Q3%20report.pdf" in body["urls"]["original"]


def test_an_executable_declared_as_a_pdf_is_rejected(media_backend) -> None:
    upload_and_process("alice", "file", b"MZ\x90\x00" + b"\0" * 300, "application/pdf", file_name="invoice.pdf")
    (frame,) = media_backend.frames("alice-phone")
    assert (frame["type"], frame["data"]["media"]["reason"]) == ("media_rejected", "executable")
    assert object_keys() == set()


def test_only_the_owner_and_the_conversations_participants_get_download_links(media_backend) -> None:
    media_id = upload_and_process("alice", "image", media_files.jpeg(media_files.photo(300, 200)), "image/jpeg")
    event = http_event("start_conversation", user_id="alice", path={"id": "bob"})
    conversation_id = parse(start_conversation.handler(event, None))[1]["conversation"]["id"]
    assert get("bob", media_id)[0] == 404  # not sent to bob yet

    assert _send("alice", conversation_id, "p1", type="image", media_id=media_id)[0] == 201

    assert get("bob", media_id)[0] == 200
    status, body = get("carol", media_id)
    assert (status, body["error"]["code"]) == (404, "media_not_found")


@pytest.mark.parametrize("media_id", ["not-an-id", "\x00conversation\x00", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "../media"])
def test_a_download_link_for_anything_but_visible_media_is_the_contracts_404(media_backend, media_id) -> None:
    # The fuzz tier found this code missing from shared/domain/errors.py, the contract's list of error codes.
    status, body = get("alice", media_id)
    assert (status, body) == (404, {"error": {"code": "media_not_found", "message": "media not found"}})
    contract_codes = {c.code for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ParleyError)}
    assert body["error"]["code"] in contract_codes


# ---------------------------------------------------------------------------------------- media messages


def _conversation(user: str, peer: str) -> str:
    event = http_event("start_conversation", user_id=user, path={"id": peer})
    return parse(start_conversation.handler(event, None))[1]["conversation"]["id"]


def _send(user: str, conversation_id: str, client_message_id: str, **body) -> tuple[int, dict]:
    from functions import send_message

    event = http_event(
        "send_message", user_id=user, path={"id": conversation_id}, body={"client_message_id": client_message_id, **body}
    )
    return parse(send_message.handler(event, None))


def test_a_photo_message_carries_what_the_recipient_renders_and_the_recipient_downloads_it(media_backend) -> None:
    conversation_id = _conversation("alice", "bob")
    assert ws_connect.handler(ws_event("$connect", connection_id="bob-phone", user_id="bob"), None)["statusCode"] == 200
    media_id = upload_and_process("alice", "image", media_files.jpeg_with_gps_and_orientation_6(), "image/jpeg")

    status, body = _send("alice", conversation_id, "photo-1", type="image", media_id=media_id, content="look!")

    assert status == 201
    message = body["message"]
    assert (message["type"], message["content"]) == ("image", "look!")
    (attachment,) = message["attachments"]
    assert attachment["media_id"] == media_id and attachment["kind"] == "image"
    assert (attachment["width"], attachment["height"]) == (800, 1200)
    assert attachment["placeholder"] and attachment["content_type"] == "image/jpeg"
    assert set(attachment["renditions"]) == {"standard", "thumbnail"}
    pushed = [f for f in media_backend.frames("bob-phone") if f["type"] == "new_message"]
    assert [f["data"]["message"] for f in pushed] == [message]
    # Bound before the push: the link works the moment the message arrives.
    status, links = get("bob", media_id)
    assert status == 200 and set(links["urls"]) == {"standard", "thumbnail"}
    assert get("carol", media_id)[0] == 404
    # A retry is the same message; the media stays bound to it.
    assert _send("alice", conversation_id, "photo-1", type="image", media_id=media_id, content="look!") == (200, body)


def test_a_voice_note_and_a_file_message_carry_duration_size_type_and_name(media_backend) -> None:
    conversation_id = _conversation("alice", "bob")
    voice = upload_and_process("alice", "audio", media_files.fixture("voice.ogg"), "audio/ogg")
    document = upload_and_process("alice", "file", media_files.minimal_pdf(), "application/pdf", file_name="plan.pdf")

    (voice_attachment,) = _send("alice", conversation_id, "v1", type="audio", media_id=voice)[1]["message"]["attachments"]
    (file_attachment,) = _send("alice", conversation_id, "f1", type="file", media_id=document)[1]["message"]["attachments"]

    assert 3400 < voice_attachment["duration_ms"] < 3700
    assert voice_attachment["content_type"] == "audio/ogg" and voice_attachment["size"] > 0
    assert file_attachment["file_name"] == "plan.pdf" and file_attachment["size"] == len(media_files.minimal_pdf())


@pytest.mark.parametrize(
    ("whose", "message_type", "expected"),
    [
        ("carol", "image", (404, "media_not_found")),  # someone else's upload
        ("alice", "audio", (400, "bad_request")),  # an image sent as a voice note
    ],
)
def test_only_the_senders_own_media_of_the_right_kind_can_be_attached(media_backend, whose, message_type, expected) -> None:
    conversation_id = _conversation("alice", "bob")
    media_id = upload_and_process(whose, "image", media_files.jpeg(media_files.photo(200, 100)), "image/jpeg")
    status, body = _send("alice", conversation_id, "m1", type=message_type, media_id=media_id)
    assert (status, body["error"]["code"]) == expected


def test_media_that_is_not_ready_or_already_sent_elsewhere_cannot_be_attached(media_backend) -> None:
    conversation_id = _conversation("alice", "bob")
    pending = grant("alice", "image", b"x" * 100, "image/jpeg")["media"]["id"]
    assert get("alice", pending)[1]["media"]["status"] == "pending"
    assert _send("alice", conversation_id, "m1", type="image", media_id=pending)[0] == 409
    rejected = upload_and_process("alice", "image", media_files.PHP_SCRIPT, "image/jpeg")
    assert _send("alice", conversation_id, "m2", type="image", media_id=rejected)[0] == 409

    sent = upload_and_process("alice", "image", media_files.jpeg(media_files.photo(200, 100)), "image/jpeg")
    assert _send("alice", conversation_id, "m3", type="image", media_id=sent)[0] == 201
    other = _conversation("alice", "dave")
    status, body = _send("alice", other, "m4", type="image", media_id=sent)
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert _send("alice", conversation_id, "m5", type="image", media_id="not-an-id")[0] == 400


# ------------------------------------------------------------ media messages like text: receipts, sync, replies, deletes


def _photo_message(user: str, conversation_id: str, client_message_id: str, caption: str) -> tuple[dict, str]:
    media_id = upload_and_process(user, "image", media_files.jpeg(media_files.photo(320, 240)), "image/jpeg")
    status, body = _send(user, conversation_id, client_message_id, type="image", media_id=media_id, content=caption)
    assert status == 201, body
    return body["message"], media_id


def test_a_photo_message_is_acked_read_synced_and_replied_to_like_text(media_backend, streams) -> None:
    conversation_id = _conversation("alice", "bob")
    connect("bob", "bob-phone")
    photo, media_id = _photo_message("alice", conversation_id, "p1", "the view")
    streams.drain()

    assert ack("bob", "bob-phone", conversation_id, photo["id"]) is None
    assert http_mark_read("bob", conversation_id, photo["id"])[0] == 200
    (seen,) = history("alice", conversation_id)[1]["messages"]
    assert seen["status"] == "read" and seen["attachments"] == photo["attachments"]
    assert conversations("bob")[1]["conversations"][0]["last_message"]["type"] == "image"

    reply = send("bob", conversation_id, "nice", "r1", reply_to=photo["id"])[1]["message"]
    assert reply["reply_to"] | {"preview": "the view", "type": "image"} == reply["reply_to"]
    streams.drain()

    events, _ = sync_all("bob")
    synced = [e["data"]["message"] for e in events if e["type"] == "new_message"]
    assert synced[0]["id"] == photo["id"] and synced[0]["attachments"] == photo["attachments"]
    assert [e["data"]["status"] for e in sync_all("alice")[0] if e["type"] == "receipt"] == ["delivered", "read"]


def test_deleting_a_media_message_for_everyone_deletes_its_media_and_leaves_it_on_no_read_path(
    media_backend, streams
) -> None:
    """Every read path a client has, searched for the media's id after the delete; the link bob was given
    before stops working, and nobody gets a new one."""
    conversation_id = _conversation("alice", "bob")
    connect("bob", "bob-phone")
    photo, media_id = _photo_message("alice", conversation_id, "p1", "the vault, from above")
    reply = send("bob", conversation_id, "noted", "r1", reply_to=photo["id"])[1]["message"]
    star("bob", photo["id"])
    star("alice", photo["id"])
    streams.drain()
    status, links = get("bob", media_id)
    assert status == 200
    assert urllib.request.urlopen(links["urls"]["standard"]).status == 200
    pushed_before = len(media_backend.frames("bob-phone"))

    assert delete("alice", photo["id"])[0] == 200

    def reads() -> dict:
        return {
            "history": [history(user, conversation_id) for user in ("alice", "bob")],
            "conversations": [conversations(user) for user in ("alice", "bob")],
            "starred": [starred(user) for user in ("alice", "bob")],
            "sync": [sync_all(user)[0] for user in ("alice", "bob")],
        }

    for name, result in reads().items():  # before the stream consumers ran, and after
        assert media_id not in json.dumps(result) and "vault" not in json.dumps(result), name
    streams.drain()
    everything = reads() | {"pushed": media_backend.frames("bob-phone")[pushed_before:]}
    for name, result in everything.items():
        assert media_id not in json.dumps(result) and "vault" not in json.dumps(result), name
    assert "attachments" not in json.dumps(everything)

    tombstone = next(m for m in history("bob", conversation_id)[1]["messages"] if m["id"] == photo["id"])
    assert tombstone["deleted"] and tombstone["type"] == "image" and tombstone["content"] == ""
    replied = next(m for m in history("bob", conversation_id)[1]["messages"] if m["id"] == reply["id"])
    assert replied["reply_to"]["deleted"] and replied["reply_to"]["preview"] == ""
    # The media: no link for anyone, the objects gone, the link handed out before dead.
    assert get("alice", media_id)[0] == 404 and get("bob", media_id)[0] == 404
    assert object_keys() == set()
    with pytest.raises(urllib.error.HTTPError) as dead:
        urllib.request.urlopen(links["urls"]["standard"])
    assert dead.value.code in (403, 404)  # S3 answers 403 for a missing key to those who may not list the bucket
    assert delete("alice", photo["id"])[0] == 200  # twice: harmless


def test_deleting_a_media_message_for_me_hides_it_from_me_alone(media_backend, streams) -> None:
    conversation_id = _conversation("alice", "bob")
    connect("bob", "bob-phone")
    photo, media_id = _photo_message("alice", conversation_id, "p1", "the view")

    status, body = delete("bob", photo["id"], for_me=True)

    assert status == 200 and body["message"]["deleted"] and "attachments" not in body["message"]
    (update,) = [f for f in media_backend.frames("bob-phone") if f["type"] == "message_updated"]
    assert "attachments" not in update["data"]["message"]
    assert history("alice", conversation_id)[1]["messages"][0]["attachments"] == photo["attachments"]
    assert get("alice", media_id)[0] == 200  # still hers, and still in her conversation


def test_media_already_sent_is_attached_again_only_by_a_retry_of_the_same_send(media_backend) -> None:
    conversation_id = _conversation("alice", "bob")
    photo, media_id = _photo_message("alice", conversation_id, "p1", "")
    assert _send("alice", conversation_id, "p1", type="image", media_id=media_id)[1]["message"] == photo  # a retry
    status, body = _send("alice", conversation_id, "p2", type="image", media_id=media_id)
    # Another message holding it would lose it when the first is deleted.
    assert (status, body["error"]["code"]) == (409, "conflict")


def test_two_first_sends_of_one_media_item_at_once_attach_it_to_one_message(media_backend, monkeypatch) -> None:
    conversation_id = _conversation("alice", "bob")
    media_id = upload_and_process("alice", "image", media_files.jpeg(media_files.photo(200, 100)), "image/jpeg")
    # Both sends read the media as free before either stores its message (the race a read-then-write loses).
    both_read = threading.Barrier(2, timeout=10)
    read_media = MediaRepository.get

    def get_then_wait(self, wanted_id):
        media = read_media(self, wanted_id)
        if wanted_id == media_id:
            both_read.wait()
        return media

    monkeypatch.setattr(MediaRepository, "get", get_then_wait)
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda client_id: _send("alice", conversation_id, client_id, type="image", media_id=media_id), ["a", "b"])
        )
    monkeypatch.setattr(MediaRepository, "get", read_media)

    assert sorted((status, body.get("error", {}).get("code")) for status, body in answers) == [(201, None), (409, "conflict")]
    (stored,) = [body["message"] for status, body in answers if status == 201]
    assert [m["id"] for m in history("alice", conversation_id)[1]["messages"]] == [stored["id"]]
    assert wiring.media().media.get(media_id).message_id == stored["id"]
