"""One person's browser: a headless Chromium (Debian's, through its chromedriver) on the web client, with
what a person does (sign in, open a chat, type, use a message's menu) and sees (texts, ticks, banners)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import ARTIFACTS, CHROMEDRIVER, CHROMIUM

WAIT_SECONDS = 20  # two shared cores run two browsers and the runtime: patient waits, never fixed sleeps
CSS = By.CSS_SELECTOR


@dataclass
class ChatPage:
    name: str
    base_url: str
    driver: webdriver.Chrome

    @classmethod
    def launch(cls, name: str, base_url: str, *, width: int, height: int) -> ChatPage:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        for argument in (
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--disable-extensions",
            # A microphone for voice notes: Chromium's built-in fake device (a beep), allowed without a prompt.
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--window-size={width},{height}",
        ):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.get(base_url)
        return cls(name, base_url, driver)

    def quit(self) -> None:
        self.driver.quit()

    # ---------------------------------------------------------------------------------- waiting

    def wait(self, condition: Callable[[], object], timeout: float = WAIT_SECONDS) -> None:
        def check(_driver) -> object:
            try:
                return condition()
            except (StaleElementReferenceException, WebDriverException, IndexError, StopIteration):
                return False  # the view re-rendered between finding and reading: look again

        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(check)
        except TimeoutException:
            # What the person saw and what the page logged: an artifact to read when CI fails.
            self.driver.save_screenshot(str(ARTIFACTS / f"failed-{self.name}.png"))
            logs = [f'{entry["timestamp"]} {entry["message"]}' for entry in self.driver.get_log("browser")]
            (ARTIFACTS / f"failed-{self.name}.log").write_text("\n".join(logs))
            raise AssertionError(f"{self.name}: condition not met in {timeout} s; console: {logs[-5:]}") from None

    def find(self, selector: str) -> WebElement:
        self.wait(lambda: self.driver.find_elements(CSS, selector))
        return self.driver.find_element(CSS, selector)

    def screenshot(self, screen: str, before_sign_in: bool = False) -> None:
        if before_sign_in:
            self.find("#sign-in-value")
        time.sleep(0.3)  # let a transition (an image fading in) finish before the picture
        self.driver.save_screenshot(str(ARTIFACTS / f"{screen}.png"))

    # ---------------------------------------------------------------------------------- doing

    def sign_in(self) -> None:
        self.find("#sign-in-value").send_keys(self.name + Keys.ENTER)
        self.wait(lambda: self.driver.find_element(CSS, "[data-testid=me]").text == self.name)
        self.wait(lambda: self.driver.find_element(CSS, ".me .dot.online"))  # the socket is open

    def start_conversation(self, peer: str) -> None:
        self.find("#new-peer").send_keys(peer + Keys.ENTER)
        self.wait(lambda: self.driver.find_element(CSS, ".thread-head h2").text == peer)

    def conversation_row(self, peer: str) -> Callable[[], WebElement]:
        return lambda: self.driver.find_element(CSS, f".conversation[data-peer='{peer}']")

    def open_conversation(self, peer: str) -> None:
        self.wait(lambda: self.conversation_row(peer)())
        self.conversation_row(peer)().click()
        self.wait(lambda: self.driver.find_element(CSS, ".thread-head h2").text == peer)

    def back_to_list(self) -> None:
        self.find(".back").click()
        self.find(".conversations")

    def show_chats(self) -> None:
        self.driver.find_element(By.XPATH, "//div[@class='tabs']/button[1]").click()

    def composer(self) -> WebElement:
        return self.find("#composer-text")

    def send(self, text: str) -> None:
        self.composer().send_keys(text + Keys.ENTER)
        self.wait(lambda: self.composer().get_attribute("value") == "")

    def type_without_sending(self, text: str) -> None:
        self.composer().send_keys(text)

    def clear_composer(self) -> None:
        box = self.composer()
        box.send_keys(Keys.CONTROL + "a", Keys.DELETE)
        self.driver.execute_script("arguments[0].blur()", box)

    def act_on_message(self, text: str, action: str) -> None:
        """Opens the message's menu (⋯) and presses the button labelled `action` (its text or aria-label)."""
        self.wait_for_message_text(text)

        def attempt() -> bool:  # again from the start if the list re-rendered under it
            message = self.message_with_text(text)
            if not message.find_elements(CSS, ".menu"):
                message.find_element(CSS, "button.more").click()
            for button in message.find_elements(CSS, ".menu button"):
                if action in (button.text, button.get_attribute("aria-label")):
                    button.click()
                    return True
            return False

        self.wait(attempt)

    def attach_image(self, path) -> None:
        self.driver.find_element(CSS, "#attach-image").send_keys(str(path))

    def attach_file(self, path) -> None:
        self.driver.find_element(CSS, "#attach-file").send_keys(str(path))

    def record_voice_note(self, seconds: float) -> None:
        self.find("button[aria-label='Record a voice message']").click()
        self.find("button[aria-label='Stop and send the voice message']")
        time.sleep(seconds)  # the recording's length: what the test sends
        self.find("button[aria-label='Stop and send the voice message']").click()

    def search(self, query: str) -> None:
        box = self.find("#search")
        box.clear()
        box.send_keys(query + Keys.ENTER)

    def leave(self) -> None:
        self.driver.get("about:blank")

    def come_back(self) -> None:
        self.driver.get(self.base_url)  # the same tab: its session (sessionStorage) signs it straight in
        self.wait(lambda: self.driver.find_element(CSS, ".me .dot.online"))

    def _network(self, offline: bool) -> None:
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )

    def go_offline(self) -> None:
        self._network(True)

    def go_online(self) -> None:
        self._network(False)

    # ---------------------------------------------------------------------------------- seeing

    def messages(self) -> list[WebElement]:
        return self.driver.find_elements(CSS, ".messages .message")

    def last_message(self) -> WebElement:
        return self.messages()[-1]

    def message_texts(self) -> list[str]:
        return [e.text for e in self.driver.find_elements(CSS, ".messages .message .text")]

    def messages_text(self) -> str:
        return self.find(".messages").text

    def message_with_text(self, text: str) -> WebElement:
        """The stored message (not the pending copy shown while it is sent) showing `text`."""
        self.wait_for_message_text(text)
        return next(
            m
            for m in self.driver.find_elements(CSS, ".messages .message[data-seq]")
            if text in [e.text for e in m.find_elements(CSS, ".text")]
        )

    def wait_for_message_text(self, text: str) -> None:
        self.wait(lambda: text in self.message_texts())

    def unread_badge(self, peer: str, in_list: bool = True) -> str | None:
        if not in_list and not self.driver.find_elements(CSS, f".conversation[data-peer='{peer}']"):
            return None  # on a phone the list is hidden while a thread is open
        badges = self.conversation_row(peer)().find_elements(CSS, "[data-testid=unread]")
        return badges[0].text if badges else None

    def typing_text(self) -> str:
        return self.driver.find_element(CSS, "[data-testid=typing]").text

    def peer_status(self) -> str:
        return self.driver.find_element(CSS, "[data-testid=peer-status]").text

    def sidebar_text(self) -> str:
        return self.driver.find_element(CSS, ".sidebar").text

    def offline_banner_shown(self) -> bool:
        return bool(self.driver.find_elements(CSS, "[data-testid=offline-banner]"))

    def outbox(self) -> str:
        return json.dumps(self.driver.execute_script(f"return localStorage.getItem('parley.outbox.{self.name}')"))
