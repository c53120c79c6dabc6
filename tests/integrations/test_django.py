"""`sock8.integrations.django`: the adapter contract through Django's test `Client`, with the
session and CSRF middleware on (CSRF checks enforced, as in production)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import django  # type: ignore[import-untyped]
import pytest
from django.conf import settings  # type: ignore[import-untyped]
from sock8 import Connection
from sock8.integrations.django import with_sock8

from tests.integrations.contract import (
    BASE,
    PARTNER,
    Answer,
    App,
    Client,
    ContractTests,
    counted,
    import_without,
    make_app,
)

if not settings.configured:
    settings.configure(
        SECRET_KEY="django-test-only-0123456789abcdef-0123456789",
        ALLOWED_HOSTS=["testserver"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        # Sessions in a signed cookie: no database needed.
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()

from django.http import HttpRequest, JsonResponse  # type: ignore[import-untyped]
from django.middleware.csrf import get_token  # type: ignore[import-untyped]
from django.test import Client as DjangoClient  # type: ignore[import-untyped]
from django.test import override_settings
from django.urls import include, path  # type: ignore[import-untyped]


class URLConf:
    """A root URLconf object (Django accepts any object with `urlpatterns`)."""

    def __init__(self, urlpatterns: list[Any]) -> None:
        self.urlpatterns = urlpatterns


def csrf(request: HttpRequest) -> JsonResponse:
    """A page view: sets the `csrftoken` cookie and tells the token, as a template would."""
    return JsonResponse({"csrf": get_token(request)})


def login(request: HttpRequest) -> JsonResponse:
    """Puts `?user=` in the session (a stand-in for the app's own login)."""
    request.session["user"] = request.GET["user"]
    return JsonResponse({"ok": True})


def urls(app: App, authorize: Callable[[Connection[Any]], Any], **options: Any) -> URLConf:
    """The test site: the sock8 patterns included under `BASE` (`options` go to `with_sock8`),
    plus a page and a login."""
    patterns = with_sock8(app.s8, authorize=authorize, **options)
    return URLConf(
        [
            path("csrf", csrf),
            path("login", login),
            path(BASE.strip("/") + "/", include(patterns)),
        ]
    )


class _Client(Client):
    def __init__(self, client: Any, csrf_token: str) -> None:
        self._client = client
        self._csrf_token = csrf_token

    def send(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        # What the browser does: X-CSRFToken carries the csrftoken cookie's value.
        sent = {"X-CSRFToken": self._csrf_token, **headers}
        response = self._client.generic(method, url, headers=sent)
        return Answer.of(response.status_code, response.content.decode(), response.headers.items())


class TestDjango(ContractTests):
    """The contract, with the patterns included in a Django URLconf."""

    site_origin = "http://testserver"
    csrf_checks_origin = True

    def make_client(
        self, app: App, authorize: Callable[[Connection[Any]], Any], **options: Any
    ) -> Iterator[Client]:
        # A Django site that lets another site's pages POST must trust it for CSRF too.
        with override_settings(
            ROOT_URLCONF=urls(app, authorize, **options), CSRF_TRUSTED_ORIGINS=[PARTNER]
        ):
            client = DjangoClient(enforce_csrf_checks=True)
            yield _Client(client, client.get("/csrf").json()["csrf"])

    @staticmethod
    def user_of(request: HttpRequest) -> str | None:
        user: str | None = request.headers.get("X-User")
        return user


def session_authorizers(app: App) -> dict[str, Callable[[Connection[Any]], Any]]:
    """`authorize` reading the user from Django's session, sync and async."""

    def sync(conn: Connection[HttpRequest]) -> None:
        user = conn.request.session.get("user")
        if user is not None:
            conn.identify_as(user)
            conn.grant(*app.granted(user))

    async def async_(conn: Connection[HttpRequest]) -> None:
        user = await conn.request.session.aget("user")
        if user is not None:
            conn.identify_as(user)
            conn.grant(*app.granted(user))

    return {"sync": sync, "async": async_}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_behind_session_and_csrf_middleware(kind: str) -> None:
    app = make_app()
    with override_settings(ROOT_URLCONF=urls(app, session_authorizers(app)[kind])):
        client = DjangoClient(enforce_csrf_checks=True)
        token = client.get("/csrf").json()["csrf"]
        authenticate = f"{BASE}/authenticate"

        # No CSRF token: Django refuses before sock8 runs.
        assert client.post(authenticate).status_code == 403
        assert client.post(authenticate, headers={"X-CSRFToken": "wrong" * 7}).status_code == 403
        # A token but no session user: authorize grants nothing.
        assert client.post(authenticate, headers={"X-CSRFToken": token}).status_code == 401

        client.get("/login", {"user": "u1"})
        answer = client.post(authenticate, headers={"X-CSRFToken": token})
        assert answer.status_code == 200
        assert answer.json()["identity"] == "u1"
        assert answer.json()["channels"] == app.granted_ids("u1")


@pytest.mark.parametrize("options", [{}, {"allowed_origins": ["http://testserver"]}])
def test_a_cross_site_form_post_is_refused_by_csrf(options: dict[str, Any]) -> None:
    # What another site's page can make a signed-in user's browser send: the session and
    # csrftoken cookies, a form body, its own Origin; not the token, which it cannot read.
    app = make_app()
    runs: list[Any] = []
    authorize = counted(session_authorizers(app)["sync"], runs)
    with override_settings(ROOT_URLCONF=urls(app, authorize, **options)):
        client = DjangoClient(enforce_csrf_checks=True)
        client.get("/csrf")
        client.get("/login", {"user": "u1"})
        for headers in [
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "cross-site"},
            {},
        ]:
            answer = client.post(f"{BASE}/authenticate", {"a": "b"}, headers=headers)
            assert answer.status_code == 403
            assert b"CSRF verification failed" in answer.content
        assert runs == []


def test_returns_url_patterns_for_include() -> None:
    patterns = with_sock8(make_app().s8, authorize=lambda conn: None)
    assert [pattern.name for pattern in patterns] == ["sock8-authenticate", "sock8-history"]


def test_async_authorize_gets_async_views() -> None:
    async def authorize(conn: Connection[HttpRequest]) -> None:
        pass

    from asgiref.sync import iscoroutinefunction

    patterns = with_sock8(make_app().s8, authorize=authorize)
    assert all(iscoroutinefunction(pattern.callback) for pattern in patterns)
    patterns = with_sock8(make_app().s8, authorize=lambda conn: None)
    assert not any(iscoroutinefunction(pattern.callback) for pattern in patterns)


def test_missing_django_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    error = import_without(monkeypatch, "django", "sock8.integrations.django")
    assert str(error) == "sock8.integrations.django needs django: pip install 'sock8[django]'"
