"""`sock8.integrations.aiohttp`: the adapter contract through aiohttp's `TestClient` (a real
server on a local port, driven by a real aiohttp client)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sock8 import Connection
from sock8.integrations.aiohttp import with_sock8

from tests.integrations.contract import (
    BASE,
    Answer,
    App,
    Client,
    ContractTests,
    import_without,
    make_app,
)


class _Client(Client):
    """A sync face on aiohttp's async `TestClient`, which runs on its own event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: TestClient[Any, Any]) -> None:
        self._loop = loop
        self._client = client

    def send(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        return self._loop.run_until_complete(self._send(method, url, headers))

    async def _send(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        async with self._client.request(method, url, headers=headers) as response:
            return Answer.of(response.status, await response.text(), response.headers.items())


class TestAiohttp(ContractTests):
    """The contract, with the sub-application added to an aiohttp app."""

    def make_client(
        self, app: App, authorize: Callable[[Connection[Any]], Any], **options: Any
    ) -> Iterator[Client]:
        web_app = web.Application()
        web_app.add_subapp(BASE, with_sock8(app.s8, authorize=authorize, **options))
        loop = asyncio.new_event_loop()

        async def start() -> TestClient[Any, Any]:
            client: TestClient[Any, Any] = TestClient(TestServer(web_app))
            await client.start_server()
            return client

        client = loop.run_until_complete(start())
        try:
            yield _Client(loop, client)
        finally:
            loop.run_until_complete(client.close())
            loop.close()

    @staticmethod
    def user_of(request: web.Request) -> str | None:
        return request.headers.get("X-User")


def test_returns_a_sub_application() -> None:
    assert isinstance(with_sock8(make_app().s8, authorize=lambda conn: None), web.Application)


def test_missing_aiohttp_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_without(monkeypatch, "aiohttp", "sock8.integrations.aiohttp")
    assert str(error) == "sock8.integrations.aiohttp needs aiohttp: pip install 'sock8[aiohttp]'"
