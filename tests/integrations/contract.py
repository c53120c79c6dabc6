"""Shared pieces of the framework integration tests.

Every adapter must honour the same contract (docs/protocol.md, "The app's auth routes"), so the
tests live once in `ContractTests`; each `test_<framework>.py` of this directory subclasses it
and only says how to build its framework's app around `with_sock8` and how to send a request
through the framework's own test client (a `Client`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import sys
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
import sock8
from sock8 import ChannelRef, ChannelTree, ConfigError, Connection, MemoryBroker, Sock8
from starlette.exceptions import StarletteDeprecationWarning

from tests.support.example_tree import example_channels
from tests.support.secret import SECRET

GATEWAY = "wss://gateway.example/connect"
TTL = 600
BASE = "/api/channels"
NOW = 1_700_000_000.25
"""The broker's clock: history timestamps are `NOW` in milliseconds."""

USER = "u.1#%"
"""A user id with characters the wire id must escape."""
ROOM = "r 1"
LEAK = "db password is hunter2"
"""What the raising `authorize` says; it must never reach a client."""
PARTNER = "https://partner.example"
"""Another site whose pages the app lets use the routes (`allowed_origins`)."""


@dataclass
class App:
    """A `Sock8` and its channel tree, fresh for each test."""

    s8: Sock8
    channels: ChannelTree

    def granted(self, user: str) -> list[ChannelRef]:
        """What the test `authorize` grants `user`."""
        return [
            self.channels.notification.for_(userId=user),
            self.channels.chat.messages.for_(roomId=ROOM),
            self.channels.admin.logs.ref,
        ]

    def granted_ids(self, user: str) -> list[str]:
        """The wire ids of `granted(user)`, as the token holds them."""
        return sorted(ref.id for ref in self.granted(user))

    @property
    def room(self) -> ChannelRef:
        """The granted chat room, whose channel keeps history."""
        return self.channels.chat.messages.for_(roomId=ROOM)


def make_app() -> App:
    """The example app (tests/support/example_tree.py), with a fixed broker clock."""
    s8 = Sock8(
        secret=SECRET,
        gateway_url=GATEWAY,
        token_ttl=TTL,
        publisher=MemoryBroker(history_size=1000, clock=lambda: NOW),
    )
    return App(s8, example_channels(s8))


UserOf = Callable[[Any], "str | None"]
"""Reads the test user from a framework request (the `X-User` header, or the session)."""


def authorizers(app: App, user_of: UserOf) -> dict[str, Callable[[Connection[Any]], Any]]:
    """The `authorize` callbacks the contract runs: by name."""

    def grant(conn: Connection[Any]) -> None:
        user = user_of(conn.request)
        if user is None:
            return
        conn.identify_as(user)
        conn.grant(*app.granted(user))

    def sync(conn: Connection[Any]) -> None:
        grant(conn)

    async def async_(conn: Connection[Any]) -> None:
        grant(conn)

    def raising(conn: Connection[Any]) -> None:
        raise RuntimeError(LEAK)

    async def async_raising(conn: Connection[Any]) -> None:
        raise RuntimeError(LEAK)

    def anonymous(conn: Connection[Any]) -> None:
        conn.grant(app.channels.admin.logs)

    return {
        "sync": sync,
        "async": async_,
        "raising": raising,
        "async_raising": async_raising,
        "anonymous": anonymous,
    }


@dataclass
class Answer:
    """A response, whatever the framework; header names are lower-cased."""

    status: int
    text: str
    headers: dict[str, str]

    @classmethod
    def of(cls, status: int, text: str, headers: Iterable[tuple[str, str]]) -> Answer:
        """An answer from a framework response's status, text and header items."""
        return cls(status, text, {name.lower(): value for name, value in headers})

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.text)


class Client:
    """Sends requests through a framework's test client; paths start at the mount point.

    Each framework's test module subclasses it and says how to `send` one request.
    """

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send `method path` with `headers`, and the `X-User` header when `user` is given."""
        sent = dict(headers or {})
        if user is not None:
            sent["X-User"] = user
        return self.send(method, BASE + path, sent)

    def send(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        """Send one request to `url` (a path from the site's root) through the framework."""
        raise NotImplementedError


with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 under its TestClient; the test group installs httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient as TestClient  # FastAPI's is this one


class HttpxClient(Client):
    """A `Client` over an httpx client, such as Starlette's (and FastAPI's) `TestClient`."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def send(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        response = self._client.request(method, url, headers=headers)
        return Answer.of(response.status_code, response.text, response.headers.items())


def counted(
    authorize: Callable[[Connection[Any]], Any], runs: list[Any]
) -> Callable[[Connection[Any]], Any]:
    """`authorize`, sync or async as it was, appending each request it runs for to `runs`."""
    if inspect.iscoroutinefunction(authorize):

        async def run_async(conn: Connection[Any]) -> None:
            runs.append(conn.request)
            await authorize(conn)

        return run_async

    def run(conn: Connection[Any]) -> Any:
        runs.append(conn.request)
        return authorize(conn)

    return run


def other_sites(origin: str) -> list[dict[str, str]]:
    """What browsers send with a request that a page of another site than `origin` made."""
    scheme, _, host = origin.partition("://")
    return [
        {"Origin": "https://evil.example"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        # Sec-Fetch-Site is the browser's word, but a listed Origin is what lets a request in.
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
        {"Origin": f"{origin}.evil.example"},  # the site's origin as a prefix
        {"Origin": f"{'http' if scheme == 'https' else 'https'}://{host}"},  # another scheme
        {"Origin": "null"},  # sandboxed frames, data: URLs, some redirects
        # No Origin: a GET from an <img> or <script> of another site, a form in old browsers.
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another origin
    ]


def history_path(channel: str, query: str = "") -> str:
    """The history route of the wire id `channel`, URL-encoded as a client must."""
    return f"/{quote(channel, safe='')}/history{query}"


def seed(app: App, count: int) -> None:
    """Emit `count` chat messages ("m0" first) and one admin log (a channel without history)."""
    for index in range(count):
        app.room.emit({"text": f"m{index}"})
    app.channels.admin.logs.emit("not kept")


def import_without(monkeypatch: pytest.MonkeyPatch, framework: str, module: str) -> ImportError:
    """Import `module` afresh as if `framework` were not installed; return the ImportError."""
    for name in [name for name in sys.modules if name.partition(".")[0] == framework]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, framework, None)
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError) as caught:
        importlib.import_module(module)
    return caught.value


class ContractTests:
    """The adapter contract, run once per framework by subclasses."""

    site_origin = "https://app.example"
    """The origin of the app's own pages."""
    csrf_checks_origin = False
    """Whether the framework's own CSRF protection refuses a POST from a foreign `Origin`
    (before sock8 runs, with its own 403 page)."""

    def make_client(
        self, app: App, authorize: Callable[[Connection[Any]], Any], **options: Any
    ) -> Iterator[Client]:
        """Build the framework app with `with_sock8(app.s8, authorize=authorize, **options)`
        mounted at `BASE` and yield a client for it."""
        raise NotImplementedError

    @staticmethod
    def user_of(request: Any) -> str | None:
        """The `X-User` header of a framework request."""
        raise NotImplementedError

    @pytest.fixture
    def app(self) -> App:
        """A fresh app per test."""
        return make_app()

    @pytest.fixture
    def runs(self) -> list[Any]:
        """Every request `authorize` ran for, in the clients of `connect`."""
        return []

    @pytest.fixture
    def connect(self, app: App, runs: list[Any]) -> Iterator[Callable[..., Client]]:
        """`connect(kind, **options)`: a client of an app whose `authorize` is
        `authorizers()[kind]`, mounted with `with_sock8(..., **options)`."""
        opened: list[Iterator[Client]] = []

        def connect(kind: str, **options: Any) -> Client:
            authorize = counted(authorizers(app, self.user_of)[kind], runs)
            generator = self.make_client(app, authorize, **options)
            opened.append(generator)
            return next(generator)

        yield connect
        for generator in opened:
            for _ in generator:  # runs each client's teardown
                pass

    # POST /authenticate

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_granted_gets_a_token_with_exactly_the_granted_ids(
        self, connect: Callable[[str], Client], app: App, kind: str
    ) -> None:
        answer = connect(kind).request("POST", "/authenticate", user=USER)
        assert answer.status == 200, answer.text
        body = answer.json()
        assert set(body) == {"token", "endpoint", "identity", "channels", "expiresAt"}
        expected = app.granted_ids(USER)
        assert body["channels"] == expected
        assert body["identity"] == USER
        assert body["endpoint"] == GATEWAY
        assert answer.headers["cache-control"] == "no-store"

        grants = sock8.Verifier(SECRET).verify(body["token"])
        assert grants.identity == USER
        assert list(grants.channels) == expected
        assert grants.expires_at == body["expiresAt"]
        assert grants.allows(app.channels.notification.for_(userId=USER).id)
        assert not grants.allows(app.channels.notification.for_(userId="someone else").id)

        claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"], audience="sock8")
        assert claims["sub"] == USER
        assert claims["channels"] == expected
        assert claims["exp"] == body["expiresAt"]
        assert claims["exp"] - claims["iat"] == TTL

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_nothing_granted_is_401(self, connect: Callable[[str], Client], kind: str) -> None:
        answer = connect(kind).request("POST", "/authenticate")
        assert answer.status == 401
        assert answer.json() == {"error": "unauthorized"}

    @pytest.mark.parametrize("kind", ["raising", "async_raising"])
    def test_authorize_raising_is_500_logged_and_not_leaked(
        self, connect: Callable[[str], Client], kind: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR, logger="sock8"):
            answer = connect(kind).request("POST", "/authenticate", user=USER)
        assert answer.status == 500
        assert answer.json() == {"error": "internal"}
        assert "hunter2" not in answer.text
        logged = [record for record in caplog.records if record.name == "sock8"]
        assert len(logged) == 1
        assert logged[0].exc_info is not None
        assert str(logged[0].exc_info[1]) == LEAK

    def test_identity_defaults_to_a_random_id(self, connect: Callable[[str], Client]) -> None:
        client = connect("anonymous")
        first = client.request("POST", "/authenticate").json()
        second = client.request("POST", "/authenticate").json()
        assert first["channels"] == ["admin.logs"]
        assert uuid.UUID(first["identity"]) != uuid.UUID(second["identity"])
        assert sock8.Verifier(SECRET).verify(first["token"]).identity == first["identity"]

    def test_other_methods_are_405(self, connect: Callable[[str], Client], app: App) -> None:
        client = connect("sync")
        assert client.request("GET", "/authenticate", user=USER).status == 405
        assert client.request("PUT", "/authenticate", user=USER).status == 405
        assert client.request("POST", history_path(app.room.id), user=USER).status == 405

    # GET /{wire id}/history

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_history_of_a_granted_channel(
        self, connect: Callable[[str], Client], app: App, kind: str
    ) -> None:
        seed(app, 3)
        answer = connect(kind).request("GET", history_path(app.room.id), user=USER)
        assert answer.status == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        stamp = int(NOW * 1000)
        assert answer.json() == {
            "messages": [
                {"timestamp": stamp, "payload": {"text": "m2"}},
                {"timestamp": stamp, "payload": {"text": "m1"}},
                {"timestamp": stamp, "payload": {"text": "m0"}},
            ],
            "nextCursor": None,
        }

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_history_pages_with_limit_and_cursor(
        self, connect: Callable[[str], Client], app: App, kind: str
    ) -> None:
        seed(app, 5)
        client = connect(kind)
        seen: list[str] = []
        query = "?limit=2"
        while True:
            body = client.request("GET", history_path(app.room.id, query), user=USER).json()
            assert len(body["messages"]) <= 2
            seen += [message["payload"]["text"] for message in body["messages"]]
            if body["nextCursor"] is None:
                break
            query = f"?limit=2&cursor={quote(body['nextCursor'])}"
        assert seen == ["m4", "m3", "m2", "m1", "m0"]

    def test_history_limit_is_clamped(self, connect: Callable[[str], Client], app: App) -> None:
        seed(app, 120)
        client = connect("sync")

        def count(query: str) -> int:
            answer = client.request("GET", history_path(app.room.id, query), user=USER)
            assert answer.status == 200, answer.text
            return len(answer.json()["messages"])

        assert count("") == 50
        assert count("?limit=0") == 1
        assert count("?limit=-3") == 1
        assert count("?limit=7") == 7
        assert count("?limit=1000") == 100
        assert count("?limit=99999999999999999999999") == 100

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_history_of_a_channel_not_granted_is_401(
        self, connect: Callable[[str], Client], app: App, kind: str
    ) -> None:
        seed(app, 1)
        client = connect(kind)
        other_room = app.channels.chat.messages.for_(roomId="r 2").id
        for path, user in [
            (history_path(other_room), USER),
            (history_path(app.room.id), None),
        ]:
            answer = client.request("GET", path, user=user)
            assert answer.status == 401
            assert answer.json() == {"error": "unauthorized"}

    def test_history_runs_authorize_for_the_request(
        self, connect: Callable[[str], Client], app: App, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR, logger="sock8"):
            answer = connect("raising").request("GET", history_path(app.room.id), user=USER)
        assert answer.status == 500
        assert answer.json() == {"error": "internal"}

    def test_history_of_a_channel_without_history_is_empty(
        self, connect: Callable[[str], Client], app: App
    ) -> None:
        seed(app, 1)
        answer = connect("sync").request("GET", history_path("admin.logs"), user=USER)
        assert answer.status == 200
        assert answer.json() == {"messages": [], "nextCursor": None}

    @pytest.mark.parametrize(
        "path",
        [
            history_path("chat.r 1##roomId.messages"),  # not canonical: the space is not escaped
            history_path("a..b"),
            history_path("chat.r%201##roomId.messages", "?limit=ten"),
            history_path("chat.r%201##roomId.messages", "?limit=1.5"),
            history_path("chat.r%201##roomId.messages", "?cursor=not-a-cursor"),
        ],
    )
    def test_history_bad_query_is_400(self, connect: Callable[[str], Client], path: str) -> None:
        answer = connect("sync").request("GET", path, user=USER)
        assert answer.status == 400, answer.text
        assert answer.json()["error"] == "bad_request"

    # allowed_origins: other sites' pages cannot make the user's browser run authorize

    def test_without_allowed_origins_a_cross_site_post_runs_authorize(
        self, connect: Callable[..., Client], runs: list[Any]
    ) -> None:
        # Why the option exists: a form on any site can POST here with the user's cookies. The
        # page cannot read the answer (no CORS headers), but authorize has run.
        headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        answer = connect("sync").request("POST", "/authenticate", user=USER, headers=headers)
        if self.csrf_checks_origin:
            assert answer.status == 403
            assert runs == []
        else:
            assert answer.status == 200
            assert "access-control-allow-origin" not in answer.headers
            assert len(runs) == 1

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_allowed_origins_refuse_other_sites_before_authorize(
        self, connect: Callable[..., Client], app: App, runs: list[Any], kind: str
    ) -> None:
        seed(app, 1)
        client = connect(kind, allowed_origins=[self.site_origin])
        routes = [
            # What a cross-site form sends; the route reads no body.
            ("POST", "/authenticate", {"Content-Type": "application/x-www-form-urlencoded"}),
            ("GET", history_path(app.room.id), {}),
            ("GET", history_path("not a channel id"), {}),  # refused before the query is read
        ]
        for method, path, base in routes:
            for foreign in other_sites(self.site_origin):
                answer = client.request(method, path, user=USER, headers={**base, **foreign})
                assert answer.status == 403, (method, path, foreign, answer.text)
                if self.csrf_checks_origin and method == "POST" and "Origin" in foreign:
                    continue  # refused by the framework's CSRF check, with its own page
                assert answer.json() == {"error": "forbidden_origin"}, (method, foreign)
                assert answer.headers["cache-control"] == "no-store"
        assert runs == []

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_allowed_origins_let_the_site_and_non_browser_clients_in(
        self, connect: Callable[..., Client], app: App, runs: list[Any], kind: str
    ) -> None:
        seed(app, 1)
        client = connect(kind, allowed_origins=[PARTNER, self.site_origin])
        passing = [
            {},  # not a browser: a server, a script, sock8.Client
            {"Origin": self.site_origin},
            {"Origin": self.site_origin, "Sec-Fetch-Site": "same-origin"},
            {"Origin": PARTNER, "Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-origin"},  # a same-origin GET carries no Origin
            {"Sec-Fetch-Site": "none"},  # typed in the address bar
        ]
        for headers in passing:
            answer = client.request("POST", "/authenticate", user=USER, headers=headers)
            assert answer.status == 200, (headers, answer.text)
            assert answer.json()["identity"] == USER
            answer = client.request("GET", history_path(app.room.id), user=USER, headers=headers)
            assert answer.status == 200, (headers, answer.text)
            assert len(answer.json()["messages"]) == 1
        assert len(runs) == 2 * len(passing)

    def test_allowed_origins_are_spelled_as_browsers_send_them(
        self, connect: Callable[..., Client], runs: list[Any]
    ) -> None:
        scheme, _, host = self.site_origin.partition("://")
        port = 443 if scheme == "https" else 80
        # Case, the default port and a trailing slash do not matter.
        client = connect("sync", allowed_origins=[f"{scheme.upper()}://{host.upper()}:{port}/"])
        headers = {"Origin": self.site_origin}
        assert client.request("POST", "/authenticate", user=USER, headers=headers).status == 200
        assert len(runs) == 1

    @pytest.mark.parametrize(
        ("allowed", "error", "match"),
        [
            (["*"], ConfigError, "every site"),
            (["https://app.example/login"], ConfigError, "not an origin"),
            (["https://app.example?next=/"], ConfigError, "not an origin"),
            (["https://user@app.example"], ConfigError, "not an origin"),
            (["app.example"], ConfigError, "not an origin"),
            (["ftp://app.example"], ConfigError, "not an origin"),
            (["https://app.example:99999"], ConfigError, "not an origin"),
            ("https://app.example", TypeError, "list of origins"),
            ([b"https://app.example"], TypeError, "str origins"),
        ],
    )
    def test_allowed_origins_are_checked_when_mounting(
        self, app: App, allowed: Any, error: type[Exception], match: str
    ) -> None:
        authorize = authorizers(app, self.user_of)["sync"]
        with pytest.raises(error, match=match):
            next(iter(self.make_client(app, authorize, allowed_origins=allowed)))

    # CORS: with allowed_origins, the listed sites' pages may call the routes from their origin

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_cors_preflight_of_a_listed_origin(
        self, connect: Callable[..., Client], app: App, runs: list[Any], kind: str
    ) -> None:
        client = connect(kind, allowed_origins=[PARTNER, self.site_origin])
        for path, method in [("/authenticate", "POST"), (history_path(app.room.id), "GET")]:
            headers = {
                "Origin": PARTNER,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "content-type,x-csrftoken",
            }
            answer = client.request("OPTIONS", path, headers=headers)
            assert 200 <= answer.status < 300, (path, answer.status, answer.text)
            assert answer.headers["access-control-allow-origin"] == PARTNER
            assert answer.headers["access-control-allow-credentials"] == "true"
            assert method in answer.headers["access-control-allow-methods"].split(", ")
            assert answer.headers["access-control-allow-headers"] == "content-type,x-csrftoken"
            assert int(answer.headers["access-control-max-age"]) > 0
            assert "Origin" in answer.headers["vary"]
        assert runs == []  # a preflight never runs authorize

    def test_cors_preflight_of_another_origin_is_refused(
        self, connect: Callable[..., Client], app: App, runs: list[Any]
    ) -> None:
        client = connect("sync", allowed_origins=[PARTNER])
        for origin in ["https://evil.example", f"{PARTNER}.evil.example", "null"]:
            for path in ["/authenticate", history_path(app.room.id)]:
                headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
                answer = client.request("OPTIONS", path, headers=headers)
                assert answer.status == 403, (origin, path, answer.text)
                assert "access-control-allow-origin" not in answer.headers
                assert "access-control-allow-credentials" not in answer.headers
        assert runs == []

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_cors_answers_echo_only_a_listed_origin(
        self, connect: Callable[..., Client], app: App, kind: str
    ) -> None:
        seed(app, 1)
        client = connect(kind, allowed_origins=[PARTNER, self.site_origin])
        listed = {"Origin": PARTNER, "Sec-Fetch-Site": "cross-site"}
        answers = [
            client.request("POST", "/authenticate", user=USER, headers=listed),
            client.request("GET", history_path(app.room.id), user=USER, headers=listed),
            # Refusals too: the page must read a 401 to know the user is signed out.
            client.request("POST", "/authenticate", headers=listed),
            client.request("GET", history_path(app.room.id), headers=listed),
            client.request("GET", history_path("not a channel id"), user=USER, headers=listed),
        ]
        assert [answer.status for answer in answers] == [200, 200, 401, 401, 400]
        for answer in answers:
            assert answer.headers["access-control-allow-origin"] == PARTNER, answer.text
            assert answer.headers["access-control-allow-credentials"] == "true"
            assert "Origin" in answer.headers["vary"]
        foreign = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        answer = client.request("GET", history_path(app.room.id), user=USER, headers=foreign)
        assert answer.status == 403
        assert "access-control-allow-origin" not in answer.headers
        assert "Origin" in answer.headers["vary"]
        # Not a browser: nothing to echo, and the answer still varies with Origin for caches.
        answer = client.request("POST", "/authenticate", user=USER)
        assert answer.status == 200
        assert "access-control-allow-origin" not in answer.headers
        assert "Origin" in answer.headers["vary"]

    def test_without_allowed_origins_no_cors_is_answered(
        self, connect: Callable[..., Client], app: App, runs: list[Any]
    ) -> None:
        client = connect("sync")
        headers = {"Origin": PARTNER, "Access-Control-Request-Method": "POST"}
        for path in ["/authenticate", history_path(app.room.id)]:
            answer = client.request("OPTIONS", path, headers=headers)
            assert "access-control-allow-origin" not in answer.headers, (path, answer.status)
        answer = client.request("POST", "/authenticate", user=USER, headers={"Origin": PARTNER})
        assert "access-control-allow-origin" not in answer.headers
        assert len(runs) == 1  # the POST ran authorize; OPTIONS did not
