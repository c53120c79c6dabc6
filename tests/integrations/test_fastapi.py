"""`sock8.integrations.fastapi`: the adapter contract through FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from sock8 import Connection
from sock8.integrations.fastapi import with_sock8

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


class TestFastAPI(ContractTests):
    """The contract, with the router included in a FastAPI app."""

    def make_client(
        self, app: App, authorize: Callable[[Connection[Any]], Any], **options: Any
    ) -> Iterator[Client]:
        web = FastAPI()
        web.include_router(with_sock8(app.s8, authorize=authorize, **options), prefix=BASE)
        with TestClient(web) as client:
            yield HttpxClient(client)

    @staticmethod
    def user_of(request: Request) -> str | None:
        return request.headers.get("x-user")


def test_returns_an_api_router_documented_in_openapi() -> None:
    router = with_sock8(make_app().s8, authorize=lambda conn: None)
    assert isinstance(router, APIRouter)
    web = FastAPI()
    web.include_router(router, prefix=BASE)
    paths = web.openapi()["paths"]
    assert set(paths) == {f"{BASE}/authenticate", BASE + "/{channel}/history"}
    assert set(paths[f"{BASE}/authenticate"]) == {"post"}
    assert set(paths[BASE + "/{channel}/history"]) == {"get"}


def test_missing_fastapi_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_without(monkeypatch, "fastapi", "sock8.integrations.fastapi")
    assert str(error) == "sock8.integrations.fastapi needs fastapi: pip install 'sock8[fastapi]'"
