"""Two people chat in real browsers: alice (desktop width) and bob (phone width), each a headless Chromium
signed in through the local sign-in, against one `parley local`. The tests run in order and share the
conversation, as two people would; each screen is saved to tests/browser/artifacts/."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMEDRIVER, CHROMIUM, _missing

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download anything


@pytest.fixture(scope="module")
def runtime(web_dist):
    from tests.support.local_runtime import run_local_runtime

    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET")}
    with run_local_runtime(env=env) as local:
        yield local


@pytest.fixture(scope="module")
def people(runtime):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        _missing("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from tests.browser.page import ChatPage

    run = uuid.uuid4().hex[:6]
    base_url = runtime.http_url.removesuffix("/api/v1") + "/"
    ARTIFACTS.mkdir(exist_ok=True)
    alice = ChatPage.launch(f"alice-{run}", base_url, width=1100, height=760)
    bob = None
    try:
        bob = ChatPage.launch(f"bob-{run}", base_url, width=420, height=820)
        yield alice, bob
    finally:
        alice.quit()
        if bob:
            bob.quit()


def test_sign_in_start_a_conversation_send_and_receive(people):
    alice, bob = people
    alice.screenshot("sign-in", before_sign_in=True)
    alice.sign_in()
    bob.sign_in()
    alice.start_conversation(bob.name)
    alice.send("Hi Bob! Lunch tomorrow?")
    row = bob.conversation_row(alice.name)
    bob.wait(lambda: "Lunch tomorrow?" in row().text and bob.unread_badge(alice.name) == "1")
    bob.screenshot("conversation-list-phone")
    bob.open_conversation(alice.name)
    bob.wait_for_message_text("Hi Bob! Lunch tomorrow?")


def test_ticks_go_from_delivered_to_blue_when_bob_reads(people):
    alice, bob = people
    bob.back_to_list()
    alice.send("Are you there?")
    mine = alice.last_message  # looked up each time: the sent message replaces the pending one
    alice.wait(lambda: mine().get_attribute("data-status") == "delivered")  # bob's device has it: ✓✓
    bob.wait(lambda: bob.unread_badge(alice.name) == "1")  # bob's list renders what his device acknowledged
    bob.open_conversation(alice.name)
    alice.wait(lambda: mine().get_attribute("data-status") == "read")  # blue ✓✓
    ticks = mine().find_element("css selector", "[data-testid=ticks]")
    assert ticks.text == "✓✓" and "read" in ticks.get_attribute("class")
    bob.wait(lambda: bob.unread_badge(alice.name, in_list=False) is None)  # alice may see "read" first


def test_typing_shows_on_the_other_side_and_clears(people):
    alice, bob = people
    bob.type_without_sending("Sure, at no")
    alice.wait(lambda: alice.typing_text() == f"{bob.name} is typing…")
    bob.clear_composer()
    alice.wait(lambda: alice.typing_text() == "")  # stop on blur, or 3 s after the last start
    bob.send("Sure, at noon")
    alice.wait_for_message_text("Sure, at noon")


def test_a_reaction_appears_on_the_other_side(people):
    alice, bob = people
    bob.act_on_message("Are you there?", "React 👍")
    alice.wait(lambda: "👍" in alice.message_with_text("Are you there?").text)


def test_a_reply_quotes_the_message_it_answers(people):
    alice, bob = people
    alice.act_on_message("Sure, at noon", "Reply")
    alice.send("Great, see you then")
    quote = lambda: bob.message_with_text("Great, see you then").find_element("css selector", "[data-testid=quote]")  # noqa: E731
    bob.wait(lambda: "Sure, at noon" in quote().text)
    alice.screenshot("thread-desktop")
    bob.screenshot("thread-phone")


def test_delete_for_everyone_leaves_a_tombstone(people):
    alice, bob = people
    alice.send("oops, wrong chat")
    bob.wait_for_message_text("oops, wrong chat")
    alice.act_on_message("oops, wrong chat", "Delete for everyone")
    bob.wait(lambda: "This message was deleted" in bob.messages_text())
    assert "oops, wrong chat" not in bob.messages_text()
    alice.wait(lambda: "You deleted this message" in alice.messages_text())


def test_star_and_search(people):
    alice, _bob = people
    alice.act_on_message("Sure, at noon", "Star")
    alice.wait(lambda: "★" in alice.message_with_text("Sure, at noon").text)
    alice.search("lunch")
    alice.wait(lambda: "Lunch tomorrow?" in alice.sidebar_text())
    alice.screenshot("search-results")
    alice.show_chats()


UNNAMED_CONTROLS = """
return [...document.querySelectorAll('button, input, textarea, select, a[href], [role=img]')]
  .filter((e) => !(e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent)
                   || e.textContent || e.title || '').trim())
  .map((e) => e.outerHTML.slice(0, 120));
"""


def test_every_control_has_a_name_and_a_phone_shows_one_pane(people):
    alice, bob = people
    for person in (alice, bob):
        assert person.driver.execute_script(UNNAMED_CONTROLS) == [], person.name  # screen readers can name them
        assert person.driver.find_elements("css selector", ".messages[role=log]")  # new messages are announced
        assert person.driver.find_elements("css selector", "[aria-live=polite]")
    # Phone width (bob): the open thread takes the screen, the list comes back with ←.
    assert not bob.driver.find_element("css selector", ".sidebar").is_displayed()
    bob.back_to_list()
    assert bob.driver.find_element("css selector", ".sidebar").is_displayed()
    assert not bob.driver.find_element("css selector", ".thread").is_displayed()
    assert alice.driver.find_element("css selector", ".sidebar").is_displayed()  # desktop: both
    bob.open_conversation(alice.name)


def test_presence_goes_offline_and_online(people):
    alice, bob = people
    alice.wait(lambda: alice.peer_status() == "online")
    bob.leave()  # the tab goes away: its socket closes, bob's last device is gone
    alice.wait(lambda: alice.peer_status().startswith("last seen"))
    bob.come_back()
    alice.wait(lambda: alice.peer_status() == "online")


def test_bob_offline_misses_nothing_and_sees_each_message_once_in_order(people):
    alice, bob = people
    bob.open_conversation(alice.name)
    bob.go_offline()
    bob.wait(lambda: bob.offline_banner_shown())
    texts = [f"catch-up {n:02d}" for n in range(1, 21)]
    for text in texts:
        alice.send(text)
    # All stored (✓), in the order typed, and none delivered: bob's device is offline.
    alice.wait(lambda: [m for m in alice.message_texts() if m.startswith("catch-up")] == texts)
    alice.wait(lambda: {m.get_attribute("data-status") for m in alice.messages()[-20:]} == {"sent"})
    bob.screenshot("offline-banner-phone")
    bob.go_online()
    bob.wait(lambda: not bob.offline_banner_shown())
    bob.wait(lambda: texts[-1] in bob.messages_text())
    shown = [line for line in bob.message_texts() if line.startswith("catch-up")]
    assert shown == texts
    alice.wait(lambda: alice.last_message().get_attribute("data-status") == "read")


def test_a_message_typed_offline_is_sent_once_back_online(people):
    alice, bob = people
    alice.go_offline()
    alice.wait(lambda: alice.offline_banner_shown())
    alice.send("written in a tunnel")
    assert alice.last_message().get_attribute("data-status") == "pending"
    assert "written in a tunnel" in alice.outbox()  # kept in localStorage: closing the tab loses nothing
    alice.go_online()
    bob.wait_for_message_text("written in a tunnel")
    alice.wait(lambda: alice.last_message().get_attribute("data-status") in ("delivered", "read"))
    assert bob.message_texts().count("written in a tunnel") == 1
    assert alice.message_texts().count("written in a tunnel") == 1


def _png(path, width: int = 64, height: int = 48) -> None:
    """A small valid PNG (a colour gradient), written without an imaging library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 5 % 256, 160)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _needs_media() -> None:
    from shared.routes import ROUTES

    if not any(route.name == "upload_image" for route in ROUTES):
        pytest.skip("media (images, voice notes, files) is not on this branch yet")


def test_an_uploaded_image_appears_for_bob(people, tmp_path):
    _needs_media()
    alice, bob = people
    image = tmp_path / "sunset.png"
    _png(image)
    alice.attach_image(image)
    bob.wait(lambda: bob.driver.find_elements("css selector", ".messages [data-testid=image][data-loaded=true]"), timeout=60)
    alice.wait(lambda: alice.driver.find_elements("css selector", ".messages [data-testid=image][data-loaded=true]"))
    bob.screenshot("image-phone")


def test_a_file_arrives_with_its_name_and_size(people, tmp_path):
    _needs_media()
    alice, bob = people
    notes = tmp_path / "minutes.txt"
    notes.write_text("Lunch at noon.\n" * 100)  # 1,500 bytes
    alice.attach_file(notes)
    file_link = lambda: bob.driver.find_elements("css selector", ".messages [data-testid=file]")  # noqa: E731
    bob.wait(lambda: file_link() and "minutes.txt" in file_link()[-1].text, timeout=60)
    assert "1.5 KB" in file_link()[-1].text
    bob.wait(lambda: file_link()[-1].get_attribute("href"))  # a download link, fetched when shown


def test_a_voice_note_is_recorded_sent_and_playable(people):
    _needs_media()
    alice, bob = people
    alice.record_voice_note(1.5)
    audio = lambda: bob.driver.find_elements("css selector", ".messages audio")  # noqa: E731
    bob.wait(lambda: audio() and audio()[-1].get_attribute("src"), timeout=60)
