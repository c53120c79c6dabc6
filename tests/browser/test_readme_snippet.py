"""The README's browser snippet, as written, in Chromium: on a page of the app, with
`https://realtime.example.com/sock8.js` answered by the test gateway."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.browser.conftest import WAIT_MS
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


def _open(browser: Any, world: World, user: str | None) -> tuple[Any, list[str]]:
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
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

    page.route(f"{GATEWAY_HOST}/sock8.js", serve_module)
    html = "<!doctype html><meta charset=utf-8><title>readme</title>" + readme_browser_snippet()
    # Served by the app itself: a page Playwright made up would count as a public site, which
    # Chromium keeps from reaching loopback addresses (the gateway).
    world.pages["readme"] = html
    page.goto(world.app.url + "/")
    if user is not None:
        page.evaluate("(user) => fetch(`/login?user=${user}`, { method: 'POST' })", user)
    page.goto(world.app.url + "/pages/readme")
    return context, console


def _wait_for_line(context: Any, console: list[str], line: str) -> None:
    if line not in console:
        context.pages[0].wait_for_event(
            "console", predicate=lambda _: line in console, timeout=WAIT_MS
        )


def test_the_readme_snippet_runs_as_written(browser: Any, world: World) -> None:
    world.room("lobby").emit({"author": "bob", "text": "earlier"})
    context, console = _open(browser, world, "alice")
    try:
        _wait_for_line(context, console, "here: alice")
        world.room("lobby").emit({"author": "bob", "text": "live"})
        _wait_for_line(context, console, "bob: live")
        assert "sock8: connecting " in console
        assert "sock8: connected " in console
        assert console.index("bob: earlier") < console.index("here: alice")
    finally:
        context.close()


def test_the_readme_snippet_reports_a_signed_out_user(browser: Any, world: World) -> None:
    context, console = _open(browser, world, None)
    try:
        _wait_for_line(context, console, "sock8 closed: unauthorized")
        assert "sock8: closed " in console
    finally:
        context.close()
