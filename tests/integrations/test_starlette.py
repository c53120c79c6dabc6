"""`sock8.integrations.starlette`: the adapter contract through Starlette's TestClient."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sock8 import Connection
from sock8.integrations.starlette import with_sock8
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.routing import Mount

from tests.integrations.contract import (
    BASE,
    App,
    Client,
    ContractTests,
    HttpxClient,
    TestClient,
    import_without,
    make_app,
)


class TestStarlette(ContractTests):
    """The contract, with the adapter mounted in a Starlette app."""

    def make_client(
        self, app: App, authorize: Callable[[Connection[Any]], Any], **options: Any
    ) -> Iterator[Client]:
        mounted = with_sock8(app.s8, authorize=authorize, **options)
        web = Starlette(routes=[Mount(BASE, app=mounted)])
        with TestClient(web) as client:
            yield HttpxClient(client)

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


@pytest.mark.parametrize(
    ("allowed_origins", "status"), [(None, 200), (["https://app.example"], 403)]
)
def test_wildcard_cors_with_credentials_hands_every_site_the_token(
    allowed_origins: list[str] | None, status: int
) -> None:
    # The README's warning: with allow_credentials, CORSMiddleware echoes any Origin back, so
    # any site's page may read the answer. allowed_origins still refuses other sites.
    app = make_app()
    mounted = with_sock8(
        app.s8,
        authorize=lambda conn: conn.grant(app.channels.admin.logs),
        allowed_origins=allowed_origins,
    )
    web = Starlette(
        routes=[Mount(BASE, app=mounted)],
        middleware=[
            Middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True),
        ],
    )
    evil = {"Origin": "https://evil.example", "Cookie": "session=victim"}
    with TestClient(web) as client:
        response = client.post(BASE + "/authenticate", headers=evil)
    assert response.headers["access-control-allow-origin"] == "https://evil.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.status_code == status
    if status == 200:
        assert "token" in response.json()
    else:
        assert response.json() == {"error": "forbidden_origin"}


def test_missing_starlette_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_without(monkeypatch, "starlette", "sock8.integrations.starlette")
    assert str(error) == (
        "sock8.integrations.starlette needs starlette: pip install 'sock8[starlette]'"
    )
