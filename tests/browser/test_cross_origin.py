"""A front-end on another origin (a `next dev` server, an SPA on its own domain) uses the app's
auth route with the user's cookies, when the app lists its origin in `allowed_origins`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.browser.conftest import Tab
from tests.browser.servers import Restartable
from tests.browser.world import LOBBY, World, build_world, page_html
from tests.support.live_server import free_port


def _front_end(gateway: str) -> Starlette:
    """The front-end's server: one page that imports sock8.js from the gateway."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(page_html(gateway))

    return Starlette(routes=[Route("/", page)])


@pytest.fixture
def front_end(browser: Any) -> Iterator[tuple[World, Restartable, Restartable]]:
    """A world whose app lists one front-end's origin, that front-end, and an unlisted one."""
    listed, unlisted = free_port(), free_port()
    app_port = free_port()
    world = build_world(
        allowed_origins=[f"http://127.0.0.1:{listed}", f"http://127.0.0.1:{app_port}"],
        app_port=app_port,
    )
    gateway = world.gateway.url
    servers = [Restartable(None, listed), Restartable(None, unlisted)]
    try:
        for server in servers:
            server.start(_front_end(gateway))
        yield world, servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        world.close()


@contextlib.contextmanager
def _signed_in(browser: Any, world: World, url: str) -> Iterator[Tab]:
    # Cookies belong to the host, whatever the port: signing in on the app serves both pages.
    tab = Tab(browser, world.app.url + "/")
    try:
        tab.login("alice")
        tab.goto(url)
        yield tab
    finally:
        tab.close()


def test_a_listed_front_end_connects_with_the_users_cookies(
    browser: Any, front_end: tuple[World, Restartable, Restartable]
) -> None:
    world, listed, _ = front_end
    with _signed_in(browser, world, listed.url + "/") as tab:
        options = {
            "authUrl": world.app.url + "/api/channels",
            "fetchOptions": {"credentials": "include"},
        }
        assert tab.start(**options)["identity"] == "alice"
        world.room("lobby").emit({"author": "app", "text": "hello"})
        tab.wait("(events) => events.some((e) => e.kind === 'message')")
        page = tab.run(f"() => client.channel('{LOBBY}').history()")
        assert [m["payload"]["text"] for m in page["messages"]] == ["hello"]
        # Signed out: the page reads the 401 (it carries CORS headers) and stops for good.
        # (The app's /logout answers no CORS: the page cannot read it, but it is done.)
        tab.run(
            "() => fetch(client.authUrl.replace('/api/channels', '/logout'), "
            "{ method: 'POST', credentials: 'include' }).catch(() => null)"
        )
        assert tab.run("() => attempt(client.refresh())")["code"] == "unauthorized"


def test_an_unlisted_front_end_gets_nothing(
    browser: Any, front_end: tuple[World, Restartable, Restartable]
) -> None:
    world, _, unlisted = front_end
    with _signed_in(browser, world, unlisted.url + "/") as tab:
        tab.run(
            "(authUrl) => { window.start({ authUrl, fetchOptions: { credentials: 'include' } }); }",
            world.app.url + "/api/channels",
        )
        tab.wait_state("disconnected")
        event = tab.events("state")[-1]
        assert "failed" in event["reason"], event  # the browser hid the 403 from the page
        assert world.authenticated["alice"] == 0  # refused before authorize ran
