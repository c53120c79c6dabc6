"""`sock8.integrations.flask`: the adapter contract through Flask's test client."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask, Request
from flask.testing import FlaskClient
from sock8 import Connection
from sock8.integrations.flask import with_sock8

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
    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def send(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        response = self._client.open(url, method=method, headers=headers)
        return Answer.of(
            response.status_code, response.get_data(as_text=True), response.headers.items()
        )


def flask_app(app: App, authorize: Callable[[Connection[Any]], Any], **options: Any) -> Flask:
    """A Flask app with the blueprint registered at `BASE`; `options` go to `with_sock8`."""
    web = Flask(__name__)
    web.register_blueprint(with_sock8(app.s8, authorize=authorize, **options), url_prefix=BASE)
    return web


class TestFlask(ContractTests):
    """The contract, with the blueprint registered on a Flask app."""

    def make_client(
        self, app: App, authorize: Callable[[Connection[Any]], Any], **options: Any
    ) -> Iterator[Client]:
        with flask_app(app, authorize, **options).test_client() as client:
            yield _Client(client)

    @staticmethod
    def user_of(request: Request) -> str | None:
        return request.headers.get("X-User")


def test_returns_a_blueprint_with_named_endpoints() -> None:
    blueprint = with_sock8(make_app().s8, authorize=lambda conn: None, name="realtime")
    assert isinstance(blueprint, Blueprint)
    web = Flask(__name__)
    web.register_blueprint(blueprint, url_prefix=BASE)
    with web.test_request_context():
        from flask import url_for

        assert url_for("realtime.authenticate") == f"{BASE}/authenticate"
        assert url_for("realtime.history", channel="a.b") == f"{BASE}/a.b/history"


def test_async_authorize_runs_on_its_own_loop_and_sees_the_real_request() -> None:
    app = make_app()
    seen: list[object] = []

    async def authorize(conn: Connection[Request]) -> None:
        seen.append(conn.request.headers.get("X-User"))
        seen.append(type(conn.request))
        seen.append(threading.current_thread() is threading.main_thread())
        conn.grant(app.channels.admin.logs)

    response = (
        flask_app(app, authorize)
        .test_client()
        .post(f"{BASE}/authenticate", headers={"X-User": "u1"})
    )
    assert response.status_code == 200
    # asgiref runs the coroutine on a loop in another thread; the request object travels along.
    assert seen == ["u1", Request, False]


def test_missing_flask_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_without(monkeypatch, "flask", "sock8.integrations.flask")
    assert str(error) == "sock8.integrations.flask needs flask: pip install 'sock8[flask]'"


def test_async_authorize_without_asgiref_fails_when_mounting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def authorize(conn: Connection[Request]) -> None:
        pass

    monkeypatch.setitem(sys.modules, "asgiref", None)
    monkeypatch.setitem(sys.modules, "asgiref.sync", None)
    with pytest.raises(ImportError, match=r"needs asgiref: pip install 'sock8\[flask\]'"):
        with_sock8(make_app().s8, authorize=authorize)
