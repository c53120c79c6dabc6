"""Shared fixtures of the browser tests: Debian's Chromium driven by Playwright (never a
downloaded browser), and a world (tests/browser/world.py) of an app and its gateway on loopback.

Screenshots of failing pages, and those the tests take on purpose, go to
`$SOCK8_ARTIFACTS/browser` (default: pytest's temporary directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.world import World, build_world

CHROMIUM = os.environ.get("SOCK8_CHROMIUM", "/usr/bin/chromium")
WAIT_MS = 10_000
"""How long one expectation may take in the page; never reached when things work."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, shared by a module's tests (gone before another area's async tests
    run: Playwright's sync API keeps an event loop of its own while it runs)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make system installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    root = os.environ.get("SOCK8_ARTIFACTS")
    path = Path(root) / "browser" if root else tmp_path_factory.mktemp("browser-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def world() -> Iterator[World]:
    """A fresh app and gateway."""
    served = build_world()
    try:
        yield served
    finally:
        served.close()


class Tab:
    """One browser context (its own cookies: one user) with the test page open."""

    def __init__(self, browser: Any, url: str, *, clock: bool = False) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))
        if clock:
            # The page's timers on a clock the test moves (Playwright's clock): no waiting.
            self.page.clock.install()
        self.goto(url)

    def goto(self, url: str, *, ready: bool = True) -> None:
        """Open `url`; with `ready`, wait until the page set `window.ready` (the test pages do)."""
        self.page.goto(url)
        if ready:
            self.page.wait_for_function("() => window.ready === true", timeout=WAIT_MS)

    def run(self, script: str, arg: Any = None) -> Any:
        """Evaluate `script` (a function expression) in the page."""
        return self.page.evaluate(script, arg)

    def login(self, user: str) -> None:
        """Sign in through the app (the session cookie lands in this context)."""
        self.run("(user) => fetch(`/login?user=${user}`, { method: 'POST' })", user)

    def logout(self) -> None:
        """Sign out through the app."""
        self.run("() => fetch('/logout', { method: 'POST' })")

    def start(self, **options: Any) -> dict[str, Any]:
        """Create the client with `options` and `connect()`; the outcome."""
        outcome: dict[str, Any] = self.run("(options) => window.start(options)", options)
        return outcome

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The client's events so far (of `kind`)."""
        found: list[dict[str, Any]] = self.run("() => window.events")
        return [event for event in found if kind is None or event["kind"] == kind]

    def states(self) -> list[str]:
        """The client's states so far."""
        return [event["state"] for event in self.events("state")]

    def wait(self, predicate: str, arg: Any = None) -> None:
        """Wait until `predicate(events, arg)` holds in the page."""
        self.page.wait_for_function(
            f"(arg) => ({predicate})(window.events, arg)", arg=arg, timeout=WAIT_MS
        )

    def wait_state(self, state: str, after: int = 0) -> None:
        """Wait until the client reports `state` (after its first `after` state events)."""
        self.wait(
            "(events, [state, after]) => events.filter((e) => e.kind === 'state')"
            ".slice(after).some((e) => e.state === state)",
            [state, after],
        )

    def close(self) -> None:
        """Close the context."""
        self.context.close()


@pytest.fixture
def tabs(browser: Any, world: World) -> Iterator[Any]:
    """`tabs(user)` opens the world's test page signed in as `user` (`None`: signed out)."""
    opened: list[Tab] = []

    def open_tab(user: str | None, *, clock: bool = False, url: str | None = None) -> Tab:
        tab = Tab(browser, url or world.app.url + "/", clock=clock)
        opened.append(tab)
        if user is not None:
            tab.login(user)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()
