"""`sock8.Client` against the real gateway and a real `with_sock8` app, over loopback sockets.

Each test serves one Starlette app with uvicorn (tests/support/live_server.py): the app's auth
routes at `/api/channels` and the gateway (`create_app(s8)`) at the root, so that `emit` reaches
the gateway in-process. The app authenticates like a cookie-session web app with CSRF protection:
a `session` cookie names the user and the `X-CSRFToken` header must match it.

Time is never waited for: token expiry and refresh run on a `ManualClock` shared by the gateway,
the app's signer and the client; reconnect delays go through an injected `sleep` that the test
releases; every wait on the network has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sock8
from sock8._backoff import Backoff
from sock8.client import (
    AuthError,
    ClientClosed,
    ClientMessage,
    ConnectionLost,
    ConnectionState,
    Forbidden,
    PresenceUpdate,
    ProtocolError,
    RequestRefused,
    Unauthorized,
)
from sock8.client.dispatch import Dispatcher
from sock8.client.grants import GrantState
from sock8.client.inbox import Inbox
from sock8.gateway import Gateway, ManualClock, create_app
from sock8.integrations.starlette import with_sock8
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

from tests.support.example_tree import Typing
from tests.support.live_server import Served, serve
from tests.support.secret import OTHER_SECRET, SECRET

TTL = 600
WAIT = 5.0
"""Seconds any expected event may take."""

DISCONNECTED = ConnectionState.DISCONNECTED
CONNECTING = ConnectionState.CONNECTING
CONNECTED = ConnectionState.CONNECTED
RECONNECTING = ConnectionState.RECONNECTING
CLOSED = ConnectionState.CLOSED


class ClockedSock8(sock8.Sock8):
    """A `Sock8` whose tokens are issued at the test's manual time, as the gateway sees it."""

    def __init__(self, clock: ManualClock, **options: Any) -> None:
        super().__init__(**options)
        self.manual_clock = clock

    def issue_token(
        self, identity: str, channels: Iterable[str], *, now: float | None = None
    ) -> sock8.IssuedToken:
        """`Sock8.issue_token` at the manual clock's time."""
        return super().issue_token(
            identity, channels, now=self.manual_clock.time() if now is None else now
        )


@dataclass
class World:
    """The app (users, sessions, channel tree), its server, and what authorize saw."""

    s8: sock8.Sock8
    channels: sock8.ChannelTree
    rooms: dict[str, set[str]] = field(
        default_factory=lambda: {"alice": {"r1", "r2"}, "bob": {"r1"}}
    )
    sessions: dict[str, str] = field(default_factory=lambda: {"s-alice": "alice", "s-bob": "bob"})
    authenticated: list[str] = field(default_factory=list)
    """The identity of every request that `authorize` granted something."""
    served: Served | None = None
    gateway: Gateway | None = None

    @property
    def auth_url(self) -> str:
        """Where `with_sock8` is mounted."""
        assert self.served is not None
        return self.served.url("/api/channels")

    def authorize(self, conn: sock8.Connection[Request]) -> None:
        """A session cookie names the user; the CSRF header must match it (as Django's)."""
        session = conn.request.cookies.get("session", "")
        user = self.sessions.get(session)
        if user is None or conn.request.headers.get("x-csrftoken") != f"csrf-{session}":
            return
        conn.identify_as(user)
        conn.grant(self.inbox(user), *(self.room(room) for room in sorted(self.rooms[user])))
        self.authenticated.append(user)

    def inbox(self, user: str) -> sock8.ChannelRef:
        """A user's notification channel."""
        return self.channels.notification.for_(userId=user)

    def room(self, room: str) -> sock8.ChannelRef:
        """A chat room's channel (presence, history)."""
        return self.channels.chat.for_(roomId=room)

    def client(self, user: str, **options: Any) -> sock8.Client:
        """A client signed in as `user` (session cookie and CSRF header)."""
        session = f"s-{user}"
        return sock8.Client(
            self.auth_url,
            cookies={"session": session},
            headers={"X-CSRFToken": f"csrf-{session}"},
            **options,
        )


def make_world(*, clock: ManualClock | None = None) -> World:
    """The app and its gateway (not served yet)."""
    options: dict[str, Any] = {"secret": SECRET, "token_ttl": TTL}
    s8 = sock8.Sock8(**options) if clock is None else ClockedSock8(clock, **options)
    channels = s8.channels(
        {
            "notification.{userId}": None,
            "chat.{roomId}": sock8.channel(None, presence=Typing, history=True),
        }
    )
    return World(s8, channels)


@contextlib.contextmanager
def running(
    world: World,
    *,
    clock: ManualClock | None = None,
    gateway_secret: str | None = None,
    **gateway_options: Any,
) -> Iterator[World]:
    """Serve the app and the gateway; the gateway verifies with `gateway_secret` if given."""
    options = {"channels": world.channels, "clock": clock, **gateway_options}
    if gateway_secret is None:
        gateway = create_app(world.s8, **options)
    else:
        gateway = create_app(secret=gateway_secret, **options)
        # A gateway that shares nothing with the app: emit must still reach it in the test.
        world.s8.publisher = gateway.state.gateway.broker
    app = Starlette(
        routes=[
            Mount("/api/channels", app=with_sock8(world.s8, authorize=world.authorize)),
            Mount("", app=gateway),
        ]
    )
    world.gateway = gateway.state.gateway
    with serve(app) as served:
        world.served = served
        # The port is known only now; the auth route hands this URL to clients.
        world.s8.gateway_url = served.ws_url
        yield world


@pytest.fixture
def world() -> Iterator[World]:
    """The app and the gateway, served, on the system clock."""
    with running(make_world()) as served:
        yield served


async def receive(client: sock8.Client) -> ClientMessage:
    """The next message, within `WAIT` seconds."""
    return await asyncio.wait_for(anext(client), WAIT)


class StateLog:
    """An `on_state` callback that records the states, and lets a test wait for one."""

    def __init__(self) -> None:
        self.seen: list[ConnectionState] = []
        self._queue: asyncio.Queue[ConnectionState] = asyncio.Queue()

    def __call__(self, state: ConnectionState) -> None:
        self.seen.append(state)
        self._queue.put_nowait(state)

    async def reach(self, state: ConnectionState) -> None:
        """Wait until the client enters `state` (counting from the last one waited for)."""
        async with asyncio.timeout(WAIT):
            while await self._queue.get() is not state:
                pass


def manual_sleep(clock: ManualClock) -> Callable[[float], Awaitable[None]]:
    """A `sleep` that returns when `clock` has moved `delay` seconds on."""

    async def sleep(delay: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = clock.call_at(clock.time() + delay, wake)
        try:
            await woken
        finally:
            timer.cancel()

    return sleep


class Sleeper:
    """A `sleep` that records each delay and returns only when the test releases it."""

    def __init__(self) -> None:
        self.calls: asyncio.Queue[tuple[float, asyncio.Future[None]]] = asyncio.Queue()

    async def __call__(self, delay: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.calls.put_nowait((delay, woken))
        await woken

    async def next(self, *, below: float = 100.0) -> tuple[float, asyncio.Future[None]]:
        """The next sleep shorter than `below` seconds (a backoff, not a refresh timer)."""
        async with asyncio.timeout(WAIT):
            while True:
                delay, woken = await self.calls.get()
                if delay < below:
                    return delay, woken


class Relay:
    """A TCP relay between the clients and the gateway, which the test can cut, or make refuse
    new connections (a gateway that crashed, a network that dropped)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self.accepted = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def ws_url(self) -> str:
        """The gateway's URL through the relay."""
        return f"ws://127.0.0.1:{self.port}/connect"

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self.sever()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def sever(self) -> None:
        """Cut every relayed connection at once, without a close frame."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.refusing:
                writer.transport.abort()
                return
            self.accepted += 1
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            self._writers |= {writer, up_writer}
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._tasks.discard(task)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            sink.transport.abort()


# Backoff


def test_backoff_grows_exponentially_up_to_the_cap_with_full_jitter() -> None:
    top = Backoff(base=0.5, cap=8, factor=2, random=lambda: 0.999)
    assert [top.ceiling(n) for n in range(7)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert [top.delay(n) for n in range(7)] == [0.999 * top.ceiling(n) for n in range(7)]
    assert Backoff(base=0.5, cap=8, random=lambda: 0.0).delay(5) == 0.0
    assert Backoff(base=1, cap=30).ceiling(10_000) == 30  # no overflow
    draws = iter([0.25, 0.75])
    jittered = Backoff(base=2, cap=30, random=lambda: next(draws))
    assert (jittered.delay(3), jittered.delay(3)) == (4.0, 12.0)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"base": 0}, "base"),
        ({"base": 2, "cap": 1}, "cap"),
        ({"factor": 0.5}, "factor"),
        ({"reset_after": -1}, "reset_after"),
    ],
)
def test_backoff_refuses_nonsense(options: dict[str, Any], field: str) -> None:
    with pytest.raises(sock8.ConfigError, match=f"^{field} must"):
        Backoff(**options)


def test_client_checks_its_arguments() -> None:
    for url in ["ws://app.example/api/channels", "/api/channels", "http://[::1/api"]:
        with pytest.raises(sock8.ConfigError, match="auth_url must be an http"):
            sock8.Client(url)
    with pytest.raises(sock8.ConfigError, match="cookies"):
        sock8.Client("http://app.example/api", cookies={"a": "b"}, http=object())  # type: ignore[arg-type]
    with pytest.raises(sock8.ConfigError, match="max_queue"):
        sock8.Client("http://app.example/api", max_queue=0)
    for name in ("request_timeout", "open_timeout"):
        for bad in (0, -1.0, math.nan):
            options: dict[str, Any] = {name: bad}
            with pytest.raises(sock8.ConfigError, match=f"^{name} must be positive"):
                sock8.Client("http://app.example/api", **options)
    for bad in (-1.0, math.nan):
        with pytest.raises(sock8.ConfigError, match=r"^refresh_before must be zero or more"):
            sock8.Client("http://app.example/api", refresh_before=bad)


# Connecting, delivery, grants


def test_connects_and_receives_only_granted_channels(world: World) -> None:
    async def main() -> None:
        seen: list[ConnectionState] = []
        client = world.client("alice", on_state=seen.append)
        assert client.state is DISCONNECTED
        async with client:
            assert client.state is CONNECTED
            assert client.identity == "alice"
            assert set(client.channels) == {
                world.inbox("alice").id,
                world.room("r1").id,
                world.room("r2").id,
            }
            assert client.expires_at is not None
            assert abs(client.expires_at - (time.time() + TTL)) < 5
            # bob's notification first: were it delivered, it would arrive before alice's.
            world.inbox("bob").emit({"for": "bob"})
            world.inbox("alice").emit({"for": "alice"})
            world.room("r1").emit({"text": "hello r1"})
            assert await receive(client) == ClientMessage(world.inbox("alice").id, {"for": "alice"})
            # The room keeps history: its messages carry their place in its stream.
            hello = await receive(client)
            assert hello == ClientMessage(world.room("r1").id, {"text": "hello r1"}, 1, hello.epoch)
            assert hello.epoch is not None
        assert seen == [CONNECTING, CONNECTED, CLOSED]
        assert client.error is None

    asyncio.run(main())


def test_iteration_ends_after_close_and_requests_fail(world: World) -> None:
    async def main() -> None:
        client = world.client("bob")
        await client.connect()
        world.inbox("bob").emit("queued before close")
        got: list[Any] = []

        async def consume() -> None:
            async for message in client.messages():
                got.append(message.payload)
                await client.close()

        await asyncio.wait_for(consume(), WAIT)
        assert got == ["queued before close"]
        assert client.state is CLOSED
        with pytest.raises(ClientClosed):
            await client.subscribe(world.room("r1"))
        with pytest.raises(ClientClosed):
            await client.history(world.room("r1"))
        with pytest.raises(ClientClosed):
            await client.connect()
        await client.close()  # idempotent

    asyncio.run(main())


def test_subscribe_outside_the_grants_is_forbidden_and_the_connection_stays(world: World) -> None:
    async def main() -> None:
        async with world.client("bob") as client:
            with pytest.raises(Forbidden) as refused:
                await client.subscribe(world.room("r2"))
            assert refused.value.channel == world.room("r2").id
            assert refused.value.code == "forbidden"
            assert client.state is CONNECTED

            await client.unsubscribe(world.room("r1"))
            world.room("r1").emit("while unsubscribed")
            world.inbox("bob").emit("marker")
            assert (await receive(client)).payload == "marker"

            await client.subscribe(world.room("r1").id)
            world.room("r1").emit("subscribed again")
            assert (await receive(client)).payload == "subscribed again"

    asyncio.run(main())


def test_headers_and_cookies_reach_the_auth_route(world: World) -> None:
    async def main() -> None:
        # Both the session cookie and the CSRF header are required by the app.
        for options in [
            {"cookies": {"session": "s-alice"}},
            {"headers": {"X-CSRFToken": "csrf-s-alice"}},
            {},
        ]:
            refused = sock8.Client(world.auth_url, **options)  # type: ignore[arg-type]
            with pytest.raises(Unauthorized, match="401"):
                await refused.connect()
            assert refused.state is CLOSED
        assert world.authenticated == []
        async with world.client("alice") as client:
            assert client.identity == "alice"
            # The history route runs authorize again, with the same cookie and header.
            await client.history(world.room("r1"))
        assert world.authenticated == ["alice", "alice"]

    asyncio.run(main())


def test_stops_for_good_on_401_from_the_auth_route(world: World) -> None:
    async def main() -> None:
        seen: list[ConnectionState] = []
        client = world.client("nobody", on_state=seen.append)
        with pytest.raises(Unauthorized):
            await client.connect()
        assert seen == [CONNECTING, CLOSED]
        assert isinstance(client.error, Unauthorized)
        with pytest.raises(Unauthorized):
            await anext(client)

        # Signed in, then signed out: the next refresh is refused and the client stops.
        async with world.client("bob") as bob:
            world.inbox("bob").emit("before logout")
            del world.sessions["s-bob"]
            with pytest.raises(Unauthorized):
                await bob.refresh()
            assert await bob.wait_for_state(CLOSED, timeout=WAIT) is CLOSED
            # What arrived before is still handed out; then the error ends the iteration.
            assert (await receive(bob)).payload == "before logout"
            with pytest.raises(Unauthorized):
                await receive(bob)

    asyncio.run(main())


def test_other_auth_route_failures() -> None:
    async def main() -> None:
        with running(make_world()) as world:
            # A wrong mount point: 404 is not worth retrying.
            client = sock8.Client(world.served.url("/nowhere") if world.served else "")
            with pytest.raises(AuthError) as failed:
                await client.connect()
            assert failed.value.status == 404
            assert not failed.value.retryable
            port = world.served.port if world.served else 0
        # Nothing listens any more: retried with backoff until the connect timeout.
        sleeper = Sleeper()
        client = sock8.Client(f"http://127.0.0.1:{port}/api/channels", sleep=sleeper)
        connecting = asyncio.create_task(client.connect(timeout=WAIT))
        delay, _ = await sleeper.next()
        assert client.state is CONNECTING
        assert 0 <= delay < 0.5
        await client.close()
        with pytest.raises(ClientClosed):
            await connecting

    asyncio.run(main())


# What the client does with the auth route's answer: the endpoint, redirects

APP_URL = "https://app.example/api/channels"
"""An auth route served over TLS, reached in-process (see `https_client`)."""


def https_client(world: World, user: str, **options: Any) -> tuple[sock8.Client, httpx.AsyncClient]:
    """A client of the world's app at `APP_URL`, signed in as `user`, and its HTTP client.

    The client really requests an `https://` URL, so the endpoint rule sees what it sees in
    production, without a TLS certificate (the test dependencies have no tool to make one):
    httpx's ASGI transport, which `http=` is documented to take, carries the request to the
    app's real `with_sock8` route in this process. Only the WebSocket goes over the network.
    """
    assert world.served is not None
    session = f"s-{user}"
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.served.app), cookies={"session": session}
    )
    client = sock8.Client(APP_URL, http=http, headers={"X-CSRFToken": f"csrf-{session}"}, **options)
    return client, http


def test_refuses_an_unencrypted_endpoint_from_an_https_auth_route(world: World) -> None:
    async def main() -> None:
        assert world.served is not None
        async with Relay(world.served.port) as relay:
            world.s8.gateway_url = relay.ws_url  # ws:// on 127.0.0.1
            client, http = https_client(world, "alice")
            async with http:
                with pytest.raises(AuthError) as refused:
                    await client.connect()
            assert "unencrypted endpoint" in str(refused.value)
            assert "allow_insecure_endpoint=True" in str(refused.value)
            # Terminal: the app's configuration is wrong, asking again would not change it.
            assert not refused.value.retryable
            assert client.state is CLOSED
            assert client.error is refused.value
            assert world.authenticated == ["alice"]  # the route answered...
            assert relay.accepted == 0  # ...and the token never went to the endpoint

            # A development set-up opts out: the endpoint is followed as it is.
            client, http = https_client(world, "alice", allow_insecure_endpoint=True)
            async with http, client:
                world.inbox("alice").emit("over ws://")
                assert (await receive(client)).payload == "over ws://"
            assert relay.accepted == 1

    asyncio.run(main())


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:{port}/connect", "https://127.0.0.1:{port}/connect", "/connect", "wss://"],
)
def test_refuses_an_endpoint_that_is_not_a_websocket_url(endpoint: str) -> None:
    world = make_world()
    returned: list[str] = []

    async def authenticate(request: Request) -> JSONResponse:
        # An auth route that is not sock8's: Sock8 itself only takes ws:// and wss:// URLs.
        body = world.s8.issue_token("alice", [world.inbox("alice").id]).as_json()
        return JSONResponse({**body, "endpoint": returned[0]})

    app = Starlette(routes=[Route("/api/channels/authenticate", authenticate, methods=["POST"])])

    async def main() -> None:
        with serve(app) as served:
            async with Relay(served.port) as relay:
                returned.append(endpoint.format(port=relay.port))
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as tls:
                    # Over the loopback, and at APP_URL; the opt-out does not let these in.
                    for client in [
                        sock8.Client(served.url("/api/channels"), allow_insecure_endpoint=True),
                        sock8.Client(APP_URL, http=tls, allow_insecure_endpoint=True),
                    ]:
                        with pytest.raises(AuthError, match="not a ws:// or wss:// URL") as refused:
                            await client.connect(timeout=WAIT)
                        assert not refused.value.retryable
                        assert client.error is refused.value
                assert relay.accepted == 0

    asyncio.run(main())


def test_follows_a_wss_endpoint_on_another_host(world: World) -> None:
    # The gateway on its own domain (realtime.example.com for app.example.com) is legitimate.
    async def main() -> None:
        assert world.served is not None
        async with Relay(world.served.port) as relay:
            # wss:// to a plain gateway: the client goes there, the TLS handshake fails, and
            # the client retries as after any network failure.
            world.s8.gateway_url = f"wss://127.0.0.1:{relay.port}/connect"
            sleeper = Sleeper()
            client, http = https_client(world, "alice", sleep=sleeper)
            async with http:
                connecting = asyncio.create_task(client.connect(timeout=None))
                await sleeper.next()
                assert relay.accepted == 1
                assert client.state is CONNECTING
                assert client.error is None
                await client.close()
                with pytest.raises(ClientClosed):
                    await connecting

    asyncio.run(main())


def test_a_redirect_from_the_app_routes_is_a_terminal_error_and_is_not_followed() -> None:
    world = make_world()
    moved: list[str] = []

    async def redirect(request: Request) -> RedirectResponse:
        moved.append(request.method)
        target = "/api/channels/" + request.path_params["rest"]
        return RedirectResponse(target, status_code=307)

    app = Starlette(
        routes=[
            Route("/moved/{rest:path}", redirect, methods=["GET", "POST"]),
            Mount("/api/channels", app=with_sock8(world.s8, authorize=world.authorize)),
        ]
    )
    signed_in = {"session": "s-alice"}
    csrf = {"X-CSRFToken": "csrf-s-alice"}

    async def main() -> None:
        with serve(app) as served:
            world.s8.gateway_url = served.ws_url
            url = served.url("/moved")
            # Followed, the redirect would take the session cookie and the CSRF header along:
            # not with the client's own HTTP client, nor with one that follows by itself.
            async with httpx.AsyncClient(follow_redirects=True, cookies=signed_in) as follows:
                for client in [
                    sock8.Client(url, cookies=signed_in, headers=csrf),
                    sock8.Client(url, http=follows, headers=csrf),
                ]:
                    with pytest.raises(AuthError) as refused:
                        await client.history(world.room("r1"))
                    assert refused.value.status == 307
                    assert "does not follow redirects" in str(refused.value)

                    with pytest.raises(AuthError) as refused:
                        await client.connect(timeout=WAIT)
                    assert refused.value.status == 307
                    assert not refused.value.retryable
                    assert "redirect to '/api/channels/authenticate'" in str(refused.value)
                    assert "does not follow redirects" in str(refused.value)
                    assert client.state is CLOSED
        # Each request reached the redirect; none went on to where it pointed.
        assert moved == ["GET", "POST", "GET", "POST"]
        assert world.authenticated == []

    asyncio.run(main())


# Presence and history


def test_presence_set_get_and_updates(world: World) -> None:
    async def main() -> None:
        updates: asyncio.Queue[PresenceUpdate] = asyncio.Queue()
        room = world.room("r1")
        async with (
            world.client("alice") as alice,
            world.client("bob", on_presence=updates.put_nowait) as bob,
        ):
            await alice.set_presence(room, {"typing": True})
            update = await asyncio.wait_for(updates.get(), WAIT)
            assert update.channel == room.id
            assert update.updates["alice"].data == {"typing": True}
            assert update.removals == ()

            state = await bob.get_presence(room)
            assert set(state) == {"alice"}
            assert state["alice"].is_connected
            assert state["alice"].data == {"typing": True}
            assert abs(state["alice"].last_seen / 1000 - time.time()) < 60

            await bob.set_presence(room.id, {"typing": False})
            state = await alice.get_presence(room)
            assert {who: entry.data for who, entry in state.items()} == {
                "alice": {"typing": True},
                "bob": {"typing": False},
            }

            with pytest.raises(RequestRefused) as invalid:
                await alice.set_presence(room, {"typing": "maybe"})
            assert invalid.value.code == "invalid_presence"
            with pytest.raises(Forbidden):
                await bob.set_presence(world.room("r2"), {"typing": True})
            with pytest.raises(Forbidden):
                await bob.get_presence(world.room("r2"))
            # Granted, but a channel without presence.
            with pytest.raises(Forbidden):
                await bob.get_presence(world.inbox("bob"))
            assert alice.state is CONNECTED
            assert bob.state is CONNECTED

            # alice's last connection leaves: bob sees her removed.
            await alice.close()
            async with asyncio.timeout(WAIT):
                while (await updates.get()).removals != ("alice",):
                    pass
            assert set(await bob.get_presence(room)) == {"bob"}

    asyncio.run(main())


def test_presence_on_an_unsubscribed_channel_is_refused_at_once(world: World) -> None:
    async def main() -> None:
        room = world.room("r1")
        # Were the refusal not matched to the request, it would wait for this timeout.
        async with world.client("bob", request_timeout=3600) as client, asyncio.timeout(WAIT):
            await client.unsubscribe(room)
            with pytest.raises(RequestRefused) as refused:
                await client.set_presence(room, {"typing": True})
            assert (refused.value.code, refused.value.channel) == ("not_subscribed", room.id)
            assert client.state is CONNECTED
            assert await client.get_presence(room) == {}

            await client.subscribe(room)
            await client.set_presence(room, {"typing": True})
            assert (await client.get_presence(room))["bob"].data == {"typing": True}

    asyncio.run(main())


def test_rate_limited_requests_fail_at_once_and_the_connection_stays() -> None:
    async def main() -> None:
        clock = ManualClock()  # the gateway's buckets refill only when the test moves it
        limits: dict[str, Any] = {
            "request_burst": 3,
            "request_rate": 1,
            "presence_burst": 1,
            "presence_rate": 1,
        }
        with running(make_world(clock=clock), clock=clock, **limits) as world:
            assert world.gateway is not None
            room = world.room("r1")
            async with world.client("alice", request_timeout=3600) as client:
                async with asyncio.timeout(WAIT):
                    await client.set_presence(room, {"typing": True})
                    # The presence bucket is empty (the request bucket pays for this one too).
                    with pytest.raises(RequestRefused) as refused:
                        await client.set_presence(room, {"typing": False})
                    assert (refused.value.code, refused.value.channel) == ("rate_limited", room.id)
                    await client.get_presence(room)  # the request bucket's last token

                    requests: list[Callable[[], Awaitable[object]]] = [
                        lambda: client.subscribe(room),
                        lambda: client.get_presence(world.room("r2")),
                    ]
                    for request in requests:
                        with pytest.raises(RequestRefused) as refused:
                            await request()
                        assert refused.value.code == "rate_limited"
                    assert refused.value.channel == world.room("r2").id
                    assert world.gateway.stats.rate_limited == 3
                    assert client.state is CONNECTED

                    # Refilled: the same connection is served again.
                    clock.advance(2)
                    await client.set_presence(room, {"typing": False})
                    assert (await client.get_presence(room))["alice"].data == {"typing": False}
                    assert client.state is CONNECTED

    asyncio.run(main())


def test_history_pages_through_the_app_route(world: World) -> None:
    async def main() -> None:
        room = world.room("r 1")
        world.rooms["bob"].add("r 1")  # an id that must be escaped in the URL
        for index in range(5):
            room.emit({"n": index})
        async with world.client("bob") as client:
            page = await client.history(room, limit=2)
            assert page.channel == room.id
            assert [item.payload for item in page.messages] == [{"n": 4}, {"n": 3}]
            assert all(abs(item.timestamp / 1000 - time.time()) < 60 for item in page.messages)
            seen = [item.payload["n"] for item in page.messages]
            while page.next_cursor is not None:
                page = await client.history(room, limit=2, cursor=page.next_cursor)
                seen += [item.payload["n"] for item in page.messages]
            assert seen == [4, 3, 2, 1, 0]

            with pytest.raises(Forbidden):
                await client.history(world.room("r2"))
            with pytest.raises(RequestRefused) as bad:
                await client.history(room, cursor="not-a-cursor")
            assert bad.value.code == "bad_request"

    asyncio.run(main())


# Tokens: refresh before exp, 4001


def test_refreshes_before_exp_on_the_live_connection() -> None:
    async def main() -> None:
        clock = ManualClock()
        start = clock.time()
        with running(make_world(clock=clock), clock=clock) as world:
            seen: list[ConnectionState] = []
            grants: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
            requested: list[float] = []
            scheduled = asyncio.Event()
            sleep = manual_sleep(clock)

            async def recorded_sleep(delay: float) -> None:
                requested.append(delay)
                scheduled.set()
                await sleep(delay)

            client = world.client(
                "alice",
                clock=clock.time,
                sleep=recorded_sleep,
                refresh_before=30,
                on_state=seen.append,
                on_channels=grants.put_nowait,
            )
            async with client:
                assert len(await asyncio.wait_for(grants.get(), WAIT)) == 3
                assert client.expires_at == math.floor(start) + TTL
                # The refresh is due 30 s before exp, on the client's clock.
                await asyncio.wait_for(scheduled.wait(), WAIT)
                assert requested == [TTL - 30]

                # Meanwhile the app takes alice out of r2.
                world.rooms["alice"].discard("r2")
                clock.advance(TTL - 30)
                refreshed = await asyncio.wait_for(grants.get(), WAIT)
                assert set(refreshed) == {world.inbox("alice").id, world.room("r1").id}
                assert world.authenticated == ["alice", "alice"]
                assert client.expires_at == math.floor(start + TTL - 30) + TTL

                # Deliveries of r2 stopped with the refresh.
                world.room("r2").emit("revoked")
                world.inbox("alice").emit("marker")
                assert (await receive(client)).payload == "marker"

                # Past the first token's exp: the gateway does not close the connection.
                clock.advance(31)
                await client.get_presence(world.room("r1"))  # a round trip after the timers
                assert client.state is CONNECTED
                assert seen == [CONNECTING, CONNECTED]

                # Signed out: the next scheduled refresh (due at start + 2 * 570, before the
                # new token's exp at start + 570 + 600) is refused and the client stops.
                assert requested[-1] == TTL - 30
                del world.sessions["s-alice"]
                clock.advance(545)
                await client.wait_for_state(CLOSED, timeout=WAIT)
                assert isinstance(client.error, Unauthorized)
            assert seen == [CONNECTING, CONNECTED, CLOSED]

    asyncio.run(main())


def test_a_rate_limited_refresh_fails_at_once_and_the_timer_retries_it_soon() -> None:
    async def main() -> None:
        clock = ManualClock()
        with running(
            make_world(clock=clock), clock=clock, request_burst=1, request_rate=1
        ) as world:
            assert world.gateway is not None
            sleeper = Sleeper()
            grants: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
            client = world.client(
                "alice",
                clock=clock.time,
                sleep=sleeper,
                backoff=Backoff(base=1, cap=4, random=lambda: 0.5),
                # Were a refused refresh left waiting, it would wait for this timeout.
                request_timeout=3600,
                on_channels=grants.put_nowait,
            )
            async with client, asyncio.timeout(WAIT):
                assert len(await grants.get()) == 3
                timer, wake_timer = await sleeper.calls.get()
                assert timer == TTL - 30
                await client.get_presence(world.room("r1"))  # the bucket's one token

                # A refresh the caller asks for fails with the gateway's code.
                with pytest.raises(RequestRefused) as refused:
                    await client.refresh()
                assert (refused.value.code, refused.value.channel) == ("rate_limited", None)
                assert client.state is CONNECTED

                # The timer's own refresh is refused too, and retried after a backoff delay.
                world.rooms["alice"].discard("r2")
                wake_timer.set_result(None)
                retry, wake_retry = await sleeper.calls.get()
                assert retry == 0.5
                assert world.gateway.stats.rate_limited == 2
                clock.advance(1)  # a token back in the bucket
                wake_retry.set_result(None)
                assert set(await grants.get()) == {world.inbox("alice").id, world.room("r1").id}
                assert world.authenticated == ["alice"] * 4
                # The timer starts over for the new token.
                timer, _ = await sleeper.calls.get()
                assert timer == TTL - 30
                assert client.state is CONNECTED

    asyncio.run(main())


def test_expired_token_closes_4001_and_the_client_fetches_a_new_one() -> None:
    async def main() -> None:
        clock = ManualClock()
        with running(make_world(clock=clock), clock=clock) as world:
            log = StateLog()
            never = Sleeper()  # the refresh timer never fires: the token expires
            async with world.client("bob", clock=clock.time, sleep=never, on_state=log) as client:
                clock.advance(TTL + 1)
                await log.reach(RECONNECTING)
                await log.reach(CONNECTED)
                assert world.authenticated == ["bob", "bob"]
                assert client.expires_at == math.floor(clock.time()) + TTL
                world.inbox("bob").emit("after the new token")
                assert (await receive(client)).payload == "after the new token"
            assert log.seen == [CONNECTING, CONNECTED, RECONNECTING, CONNECTED, CLOSED]

    asyncio.run(main())


def test_a_gateway_that_refuses_fresh_tokens_stops_the_client() -> None:
    async def main() -> None:
        with running(make_world(), gateway_secret=OTHER_SECRET) as world:
            client = world.client("alice")
            with pytest.raises(Unauthorized, match="fresh token"):
                await client.connect()
            # One token, refused with 4001; one more, refused again; then no more attempts.
            assert world.authenticated == ["alice", "alice"]
            assert client.state is CLOSED

    asyncio.run(main())


# Reconnecting


def test_reconnects_with_backoff_after_the_connection_drops(world: World) -> None:
    async def main() -> None:
        assert world.served is not None
        clock = ManualClock()
        sleeper = Sleeper()
        log = StateLog()
        async with Relay(world.served.port) as relay:
            world.s8.gateway_url = relay.ws_url
            client = world.client(
                "alice",
                backoff=Backoff(base=1, cap=4, factor=2, reset_after=60, random=lambda: 0.5),
                clock=clock.time,
                sleep=sleeper,
                on_state=log,
            )
            async with client:
                room = world.room("r1")
                await client.unsubscribe(world.room("r2"))
                await client.set_presence(room, {"typing": True})

                # The gateway is gone: every attempt fails; delays double up to the cap.
                await log.reach(CONNECTED)
                relay.refusing = True
                relay.sever()
                delays = []
                for attempt in range(5):
                    delay, woken = await sleeper.next()
                    assert client.state is RECONNECTING
                    delays.append(delay)
                    if attempt < 4:
                        woken.set_result(None)
                assert delays == [0.5, 1.0, 2.0, 2.0, 2.0]

                # Back: the next attempt connects, with the cached token.
                relay.refusing = False
                woken.set_result(None)
                await log.reach(CONNECTED)
                assert world.authenticated == ["alice"]

                # What the caller set was restored: r2 stays unsubscribed, presence is back.
                world.room("r2").emit("still unsubscribed")
                room.emit("after the reconnect")
                assert (await receive(client)).payload == "after the reconnect"
                state = await client.get_presence(room)
                assert state["alice"].data == {"typing": True}

                # A drop right after connecting keeps backing off from where it was...
                relay.sever()
                delay, woken = await sleeper.next()
                assert delay == 2.0
                woken.set_result(None)
                await log.reach(CONNECTED)
                # ...but a connection that stayed up for reset_after starts again from 0.
                clock.advance(60)
                relay.sever()
                delay, woken = await sleeper.next()
                assert delay == 0.5
                woken.set_result(None)
                await log.reach(CONNECTED)
            assert relay.accepted == 4
        assert log.seen == [CONNECTING, CONNECTED] + [RECONNECTING, CONNECTED] * 3 + [CLOSED]

    asyncio.run(main())


def test_reconnects_after_the_gateway_closes_a_slow_consumer() -> None:
    async def main() -> None:
        with running(make_world(), send_buffer=64) as world:
            assert world.served is not None
            gateway_loop = world.served.loop
            sleeper = Sleeper()
            log = StateLog()
            async with world.client("bob", sleep=sleeper, on_state=log) as client:
                inbox = world.inbox("bob")

                async def burst() -> None:
                    # Published on the gateway's own loop: the ten fan-outs run before the
                    # connection's writer sends anything, so its 64 bytes overflow.
                    for index in range(10):
                        inbox.emit(index)

                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(burst(), gateway_loop))
                delay, woken = await sleeper.next()
                assert client.state is RECONNECTING
                assert 0 <= delay < 0.5
                assert world.gateway is not None
                assert world.gateway.stats.slow_consumers == 1
                woken.set_result(None)
                await log.reach(CONNECTED)  # the first connection
                await log.reach(CONNECTED)  # the reconnection
                inbox.emit("after the reconnect")
                async with asyncio.timeout(WAIT):
                    while (await anext(client)).payload != "after the reconnect":
                        pass  # what arrived of the burst before the close
            assert log.seen == [CONNECTING, CONNECTED, RECONNECTING, CONNECTED, CLOSED]

    asyncio.run(main())


# Against a scripted server: what the real gateway never sends


@contextlib.asynccontextmanager
async def scripted(
    world: World, script: Callable[[ServerConnection, int], Awaitable[None]]
) -> AsyncIterator[list[int]]:
    """A WebSocket server playing `script(ws, connection_number)`; the app's auth route hands
    out its URL. Yields the list of connection numbers served."""
    served: list[int] = []

    async def handler(ws: ServerConnection) -> None:
        served.append(len(served))
        auth = json.loads(await ws.recv())
        assert auth["event"] == "auth"
        assert isinstance(auth["token"], str)
        await script(ws, served[-1])

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        world.s8.gateway_url = f"ws://127.0.0.1:{port}/connect"
        yield served


def _welcome(channels: list[str]) -> str:
    return json.dumps(
        {"event": "welcome", "identity": "alice", "channels": channels, "expiresAt": 2**40}
    )


def test_skips_unknown_events_and_stops_on_4400(world: World) -> None:
    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(_welcome(["a"]))
        await ws.send(json.dumps({"event": "fromTheFuture", "channel": "a", "payload": 0}))
        await ws.send(json.dumps({"channel": "a", "payload": 1}))
        await ws.send("not json")
        await ws.send(json.dumps(["not", "an", "object"]))
        await ws.send(b"binary")
        await ws.send(json.dumps({"channel": "a", "payload": 2}))
        await ws.send(json.dumps({"event": "error", "code": "bad_frame", "message": "nope"}))
        await ws.close(4400, "bad frame")

    async def main() -> None:
        async with scripted(world, script) as served:
            client = world.client("alice")
            await client.connect()
            assert [(await receive(client)).payload for _ in range(2)] == [1, 2]
            with pytest.raises(ProtocolError, match="4400") as stopped:
                await receive(client)
            assert stopped.value.code == 4400
            assert client.state is CLOSED
            assert served == [0]  # not retried
            await client.close()

    asyncio.run(main())


def test_slow_consumer_close_is_retried(world: World) -> None:
    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(_welcome(["a"]))
        if number == 0:
            await ws.close(4008, "slow consumer")
            return
        await ws.send(json.dumps({"channel": "a", "payload": "second connection"}))
        await ws.wait_closed()

    async def main() -> None:
        sleeper = Sleeper()
        async with (
            scripted(world, script) as served,
            world.client("alice", sleep=sleeper) as client,
        ):
            _, woken = await sleeper.next()
            woken.set_result(None)
            assert (await receive(client)).payload == "second connection"
            assert served == [0, 1]
            assert client.state is CONNECTED

    asyncio.run(main())


def test_requests_fail_when_the_connection_drops_before_the_answer(world: World) -> None:
    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(_welcome(["a"]))
        if number == 0:
            await ws.recv()  # the getPresence: dropped without an answer
            await ws.close(1011)
            return
        await ws.wait_closed()

    async def main() -> None:
        async with scripted(world, script), world.client("alice", sleep=Sleeper()) as client:
            with pytest.raises(ConnectionLost):
                await client.get_presence("a")

    asyncio.run(main())


def test_one_presence_update_answers_every_set_presence_it_merged() -> None:
    # The gateway merges presence changes still waiting in a connection's queue, so two
    # set_presence calls on one channel may be answered by a single presenceUpdate.
    async def main() -> None:
        grants = GrantState()
        grants.identity = "alice"
        dispatcher = Dispatcher(Inbox(8), grants, lambda update: None, lambda reset: None)
        first = dispatcher.expect("setPresence", "room")
        second = dispatcher.expect("setPresence", "room")
        other = dispatcher.expect("setPresence", "elsewhere")
        entry = {"isConnected": True, "lastSeen": 1, "data": {"typing": False}}
        await dispatcher.dispatch(
            {"event": "presenceUpdate", "channel": "room", "updates": {"alice": entry}}
        )
        assert first.future.done()
        assert second.future.done()
        assert not other.future.done()
        # Someone else's change answers nothing of ours.
        third = dispatcher.expect("setPresence", "room")
        await dispatcher.dispatch(
            {"event": "presenceUpdate", "channel": "room", "updates": {"bob": entry}}
        )
        assert not third.future.done()

    asyncio.run(main())
