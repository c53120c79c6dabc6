"""The demo page (`make serve`) in real Chromium, as two users in two browser profiles: a chat
per room with history, "typing…", leave and sign-out, and recovery from a restart and a reload.
Screenshots are kept as artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sock8.demo.app import DemoApp

from tests.browser.conftest import WAIT_MS
from tests.browser.servers import Restartable
from tests.support.live_server import free_port
from tests.support.secret import SECRET


class Demo:
    """The demo app served on a fixed port, restartable with the same secret."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = Restartable(self.new_app().asgi, self.port)
        self.server.start()

    def new_app(self) -> DemoApp:
        """What a restarted `make serve` runs: a new process, the same secret."""
        self.app = DemoApp(f"ws://127.0.0.1:{self.port}/gateway/connect", secret=SECRET)
        return self.app

    @property
    def url(self) -> str:
        """The page's URL."""
        return f"http://127.0.0.1:{self.port}/"

    def say(self, user: str, room: str, text: str) -> None:
        """Post a message as `user` through the app's route."""
        cookies = {"session": self.app.login(user)}
        url = f"{self.url}rooms/{room}/messages"
        response = httpx.post(url, json={"text": text}, cookies=cookies)
        assert response.status_code == 202, response.text


@pytest.fixture
def demo() -> Iterator[Demo]:
    served = Demo()
    try:
        yield served
    finally:
        served.server.stop()


class Profile:
    """One browser profile (context) on the demo page, recording what it requested."""

    def __init__(self, browser: Any, demo: Demo) -> None:
        self.context = browser.new_context(viewport={"width": 1100, "height": 700})
        self.page = self.context.new_page()
        self.failed: list[str] = []
        self.authenticate_calls = 0
        self.page.on("response", self._response)
        self.page.goto(demo.url)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")
        if response.url.endswith("/api/channels/authenticate"):
            self.authenticate_calls += 1

    def sign_in(self, user: str) -> None:
        """Click the user's button and wait until connected."""
        self.page.click(f"[data-user={user}]")
        self.wait_state("connected")

    def wait_state(self, state: str) -> None:
        """Wait for the state badge to show `state`."""
        self.page.wait_for_selector(f"#state[data-state={state}]", timeout=WAIT_MS)

    def wait_text(self, selector: str, text: str) -> None:
        """Wait until `selector`'s text contains `text`."""
        self.page.wait_for_function(
            "([selector, text]) => document.querySelector(selector)?.textContent.includes(text)",
            arg=[selector, text],
            timeout=WAIT_MS,
        )

    def rooms(self) -> list[str]:
        """The rooms offered."""
        names = self.page.locator("#rooms button > span:first-child").all_inner_texts()
        return [name.strip() for name in names]

    def open_room(self, room: str) -> None:
        """Show `room`."""
        self.page.click(f"#rooms button:has-text('#{room}')")
        self.wait_text("#room-title", f"#{room}")

    def shot(self, artifacts: Path, name: str) -> None:
        """Keep a screenshot."""
        self.page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def test_two_profiles_chat_with_history_and_typing(
    browser: Any, demo: Demo, artifacts: Path
) -> None:
    demo.say("alice", "lobby", "welcome to the lobby")
    alice, bob = Profile(browser, demo), Profile(browser, demo)
    alice.page.wait_for_selector("#signin:not([hidden])")
    assert "second browser" in alice.page.inner_text("#signin")
    alice.sign_in("alice")
    bob.sign_in("bob")
    assert alice.rooms() == ["#design", "#lobby"]
    assert bob.rooms() == ["#lobby"]  # only the user's rooms
    # History loaded when the room first shows.
    bob.wait_text("#messages", "welcome to the lobby")
    alice.open_room("lobby")
    alice.wait_text("#messages", "welcome to the lobby")
    # Typing shows on the other side, once, and clears when the message is sent.
    bob.page.fill("#text", "hello ali")
    alice.wait_text("#typing", "bob is typing…")
    alice.shot(artifacts, "demo-alice-sees-bob-typing")
    bob.page.press("#text", "Enter")
    alice.wait_text("#messages", "hello ali")
    alice.page.wait_for_function("() => document.querySelector('#typing').textContent === ''")
    bob.wait_text("#messages", "hello ali")
    # Replies go the other way; a message in another room counts as unread.
    alice.page.fill("#text", "hi bob")
    alice.page.press("#text", "Enter")
    bob.wait_text("#messages", "hi bob")
    demo.say("carol", "design", "design review at 3")
    alice.wait_text("#rooms", "1")
    # Notifications reach their user only.
    bob.page.select_option("#notify-user", "alice")
    bob.page.fill("#notify-title", "lunch?")
    bob.page.press("#notify-title", "Enter")
    alice.wait_text("#notifications", "lunch?")
    bob.page.select_option("#notify-user", "bob")
    bob.page.fill("#notify-title", "note to self")
    bob.page.press("#notify-title", "Enter")
    bob.wait_text("#notifications", "note to self")  # delivered after alice's, in order
    assert "lunch?" not in bob.page.inner_text("#notifications")
    alice.shot(artifacts, "demo-alice-chat")
    bob.shot(artifacts, "demo-bob-chat")
    for profile in (alice, bob):
        assert profile.failed == [], profile.failed  # no 404, favicon included
        profile.context.close()


def test_the_page_recovers_from_a_restart_and_a_reload_then_leaves_and_signs_out(
    browser: Any, demo: Demo, artifacts: Path
) -> None:
    alice = Profile(browser, demo)
    alice.sign_in("alice")
    alice.open_room("lobby")
    demo.server.stop()  # a deploy: WebSockets closed with 1012, the app gone for a moment
    alice.page.wait_for_selector("#state:not([data-state=connected])", timeout=WAIT_MS)
    demo.server.start(demo.new_app().asgi)
    alice.wait_state("connected")
    demo.say("bob", "lobby", "back after the restart")
    alice.wait_text("#messages", "back after the restart")
    # A reload finds the session and reconnects; history brings the conversation back.
    alice.page.reload()
    alice.wait_state("connected")
    alice.open_room("lobby")
    alice.wait_text("#messages", "back after the restart")
    # Leaving a room narrows the grants at once.
    alice.open_room("design")
    alice.page.click("#leave")
    alice.page.wait_for_function(
        "() => ![...document.querySelectorAll('#rooms button')]"
        ".some((button) => button.textContent.includes('design'))",
        timeout=WAIT_MS,
    )
    assert alice.rooms() == ["#lobby"]
    alice.shot(artifacts, "demo-after-leave")
    # Sign out: closed, back to the sign-in form, and no retry afterwards.
    alice.page.click("#signout")
    alice.page.wait_for_selector("#signin:not([hidden])")
    alice.wait_state("closed")
    alice.page.wait_for_function(
        "async () => (await (await fetch('/gateway/health')).json()).connections === 0",
        timeout=WAIT_MS,
    )
    calls = alice.authenticate_calls
    alice.page.reload()  # still signed out: the form, and no token asked for
    alice.page.wait_for_selector("#signin:not([hidden])")
    assert alice.authenticate_calls == calls
    assert alice.failed == [], alice.failed
    alice.context.close()
    favicon = httpx.get(demo.url + "favicon.ico")
    assert favicon.status_code == 200
    assert favicon.headers["content-type"] == "image/svg+xml"
