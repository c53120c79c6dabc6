"""`sock8.integrations.starlette`: the adapter contract through Starlette's TestClient."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _apps import BASE, Answer, App, Client, ContractTests, import_without, make_app
from sock8 import Connection
from sock8.integrations.starlette import with_sock8
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.routing import Mount

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 under its TestClient; the test group installs httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


class _Client:
    def __init__(self, client: TestClient) -> None:
        self._client = client

    def request(self, method: str, path: str, *, user: str | None = None) -> Answer:
        headers = {} if user is None else {"X-User": user}
        response = self._client.request(method, BASE + path, headers=headers)
        return Answer.of(response.status_code, response.text, response.headers.items())


class TestStarlette(ContractTests):
    """The contract, with the adapter mounted in a Starlette app."""

    def make_client(
        self, app: App, authorize: Callable[[Connection[Any]], Any]
    ) -> Iterator[Client]:
        web = Starlette(routes=[Mount(BASE, app=with_sock8(app.s8, authorize=authorize))])
        with TestClient(web) as client:
            yield _Client(client)

    @staticmethod
    def user_of(request: Request) -> str | None:
        return request.headers.get("x-user")


def test_returns_a_starlette_app() -> None:
    assert isinstance(with_sock8(make_app().s8, authorize=lambda conn: None), Starlette)


def test_sync_authorize_runs_off_the_event_loop() -> None:
    app = make_app()
    on_loop: list[bool] = []

    def authorize(conn: Connection[Request]) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            on_loop.append(False)
        else:
            on_loop.append(True)
        conn.grant(app.channels.admin.logs)

    web = Starlette(routes=[Mount(BASE, app=with_sock8(app.s8, authorize=authorize))])
    with TestClient(web) as client:
        assert client.post(BASE + "/authenticate").status_code == 200
    assert on_loop == [False]


def test_missing_starlette_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_without(monkeypatch, "starlette", "sock8.integrations.starlette")
    assert str(error) == (
        "sock8.integrations.starlette needs starlette: pip install 'sock8[starlette]'"
    )
