"""The README's browser snippet, as written, in Chromium: on a page of the app, with
`https://realtime.example.com/sock8.js` answered by the test gateway."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import httpx

from tests.browser.conftest import WAIT_MS, Tab
from tests.browser.world import World
from tests.support.repo import ROOT

GATEWAY_HOST = "https://realtime.example.com"


def readme_browser_snippet() -> str:
    """The first ```html block of the README's "Browser" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Browser\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```html\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the Browser section has no html block"
    return found.group(1)


@contextlib.contextmanager
def _opened(browser: Any, world: World, user: str | None) -> Iterator[Tab]:
    """A tab on the snippet's page, signed in as `user` (`None`: signed out)."""
    tab = Tab(browser, world.app.url + "/")
    try:
        module = httpx.get(world.gateway.url + "/sock8.js")

        def serve_module(route: Any) -> None:
            route.fulfill(
                status=200,
                body=module.content,
                headers={
                    "Content-Type": module.headers["content-type"],
                    "Access-Control-Allow-Origin": module.headers["access-control-allow-origin"],
                },
            )

        tab.page.route(f"{GATEWAY_HOST}/sock8.js", serve_module)
        html = "<!doctype html><meta charset=utf-8><title>readme</title>" + readme_browser_snippet()
        # Served by the app itself: a page Playwright made up would count as a public site,
        # which Chromium keeps from reaching loopback addresses (the gateway).
        world.pages["readme"] = html
        if user is not None:
            tab.login(user)
        tab.goto(world.app.url + "/pages/readme", ready=False)  # the snippet sets no window.ready
        yield tab
    finally:
        tab.close()


def _wait_for_line(tab: Tab, line: str) -> None:
    if line not in tab.console:
        tab.page.wait_for_event("console", predicate=lambda _: line in tab.console, timeout=WAIT_MS)


def test_the_readme_snippet_runs_as_written(browser: Any, world: World) -> None:
    world.room("lobby").emit({"author": "bob", "text": "earlier"})
    with _opened(browser, world, "alice") as tab:
        _wait_for_line(tab, "here: alice")
        world.room("lobby").emit({"author": "bob", "text": "live"})
        _wait_for_line(tab, "bob: live")
        assert "sock8: connecting " in tab.console
        assert "sock8: connected " in tab.console
        assert tab.console.index("bob: earlier") < tab.console.index("here: alice")


def test_the_readme_snippet_reports_a_signed_out_user(browser: Any, world: World) -> None:
    with _opened(browser, world, None) as tab:
        _wait_for_line(tab, "sock8 closed: unauthorized")
        assert "sock8: closed " in tab.console
