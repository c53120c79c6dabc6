"""`Gateway` and `create_app`: the sock8 gateway as an ASGI (Starlette) application."""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from starlette.applications import Starlette
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from sock8 import _gateway_defaults as defaults
from sock8._core import DEFAULT_AUDIENCE, Verifier
from sock8.app import Sock8, secret_or_environment
from sock8.broker import MemoryBroker
from sock8.errors import ConfigError
from sock8.gateway.clock import Clock, SystemClock
from sock8.gateway.frames import CLOSE_FORBIDDEN
from sock8.gateway.http import exception_handlers as http_exception_handlers
from sock8.gateway.http import routes as http_routes
from sock8.gateway.hub import Hub
from sock8.gateway.limits import Limits
from sock8.gateway.presence import MemoryPresence, PresenceStore
from sock8.gateway.rules import ChannelRules
from sock8.gateway.session import Session
from sock8.gateway.stats import GatewayStats
from sock8.http_publisher import HttpPublisher, check_client_audience, publish_audience
from sock8.keys import KeyRing
from sock8.publisher import Broker, HistoryStore
from sock8.tree import ChannelTree

__all__ = ["Gateway", "create_app"]

logger = logging.getLogger("sock8.gateway")

P = ParamSpec("P")
R = TypeVar("R")


class _Unset:
    """The type of `_UNSET`."""

    __slots__ = ()

    def __repr__(self) -> str:
        # What `help(Gateway)` and `inspect.signature` show: the value used when none is given.
        return repr(DEFAULT_AUDIENCE)


_UNSET: Any = _Unset()
"""The default of `audience`: not given. With `s8` the audience comes from `s8`, and any
`audience` passed along with it is refused, the default's value (`DEFAULT_AUDIENCE`) included;
without `s8` it stands for `DEFAULT_AUDIENCE`."""


class Gateway:
    """The sock8 gateway: verified WebSocket delivery, presence, history and publishing.

    `gateway.app` is the ASGI application (Starlette): `WebSocket /connect`, `POST /publish`,
    `GET /history/{id}`, `GET /health` (docs/protocol.md). `create_app(...)` is
    `Gateway(...).app`; the gateway is also at `app.state.gateway`.

    Arguments:
        s8: the app's `Sock8`. The gateway then verifies with `s8.verifier()`, and `ref.emit()`
            of that app goes to this gateway in-process: if `s8.publisher` is the default
            `HttpPublisher`, it is replaced by the gateway's broker; if it is a `Broker`, the
            gateway uses it.
        secret: without `s8`: the shared secret, or a `KeyRing` for rotation; defaults to the
            `SOCK8_SECRET` environment variable.
        audience: without `s8`: the audience of client tokens (publish tokens use
            `<audience>:publish`); default `sock8._core.DEFAULT_AUDIENCE` (`"sock8"`).
        issuer: without `s8`: the issuer tokens must carry, if any.
        leeway: seconds of clock skew tolerated when verifying, and after `exp`.
        channels: the app's channel tree(s), to validate presence data against each channel's
            presence schema, refuse presence on channels without one, and decide history from
            the tree instead of the publish body's `persist`.
        broker: where messages come from; defaults to `s8.publisher` when it is a `Broker`,
            else a new `MemoryBroker`.
        presence: the presence store; defaults to a `MemoryPresence`.
        history: where `GET /history` reads; defaults to the broker (which stores messages
            published with `persist`).
        allowed_origins: when given, a WebSocket upgrade whose `Origin` header is not one of
            these (`https://app.example.com`) is refused with HTTP 403. Requests without an
            `Origin` (not from a browser) are not affected.
        auth_timeout: seconds a new connection has to send its `auth` frame.
        max_frame_bytes: largest client frame, in UTF-8 bytes; it must hold an `auth` frame.
        max_publish_bytes: largest `POST /publish` body.
        max_presence_bytes: largest presence data of one identity on one channel, as JSON.
        send_buffer: bytes a connection may leave unsent before it is closed as a slow
            consumer (4008): its queued frames' UTF-8 size, plus the server's write buffer
            when it can be read (uvicorn's). Replaces `send_queue_size` (frames), removed.
        history_size: messages kept per channel by the default `MemoryBroker`.
        close_timeout: seconds to spend sending the final error frame and close.
        request_rate: client requests (every frame after `auth`) per second one connection
            may sustain; beyond, requests are refused with a `rate_limited` error.
        request_burst: client requests one connection may send at once.
        presence_rate: `setPresence` requests per second one connection may sustain.
        presence_burst: `setPresence` requests one connection may send at once.
        clock: time for token checks, expiry, deadlines and presence; a `ManualClock` in tests.

    The sizes, timeouts, rates and `leeway` are then at `gateway.limits` (a `Limits`).

    Raises:
        ConfigError: no secret, a bad secret or setting, or `s8` together with `secret`,
            `audience` or `issuer`.
    """

    def __init__(
        self,
        s8: Sock8 | None = None,
        *,
        secret: str | bytes | KeyRing | None = None,
        audience: str | None = _UNSET,
        issuer: str | None = None,
        leeway: float = 0,
        channels: ChannelTree | Iterable[ChannelTree] | None = None,
        broker: Broker | None = None,
        presence: PresenceStore | None = None,
        history: HistoryStore | None = None,
        allowed_origins: Iterable[str] | None = None,
        auth_timeout: float = defaults.AUTH_TIMEOUT,
        max_frame_bytes: int = defaults.MAX_FRAME_BYTES,
        max_publish_bytes: int = defaults.MAX_PUBLISH_BYTES,
        max_presence_bytes: int = defaults.MAX_PRESENCE_BYTES,
        send_buffer: int = defaults.SEND_BUFFER,
        history_size: int = defaults.HISTORY_SIZE,
        close_timeout: float = defaults.CLOSE_TIMEOUT,
        request_rate: float = defaults.REQUEST_RATE,
        request_burst: int = defaults.REQUEST_BURST,
        presence_rate: float = defaults.PRESENCE_RATE,
        presence_burst: int = defaults.PRESENCE_BURST,
        clock: Clock | None = None,
    ) -> None:
        self.limits = Limits(
            leeway=leeway,
            auth_timeout=auth_timeout,
            max_frame_bytes=max_frame_bytes,
            max_publish_bytes=max_publish_bytes,
            max_presence_bytes=max_presence_bytes,
            send_buffer=send_buffer,
            history_size=history_size,
            close_timeout=close_timeout,
            request_rate=request_rate,
            request_burst=request_burst,
            presence_rate=presence_rate,
            presence_burst=presence_burst,
        )
        """The sizes, timeouts, rates and leeway given above, checked."""
        self.clock: Clock = SystemClock() if clock is None else clock
        """The gateway's time."""
        self.verifier, self.publish_verifier = self._verifiers(s8, secret, audience, issuer, leeway)
        self.broker: Broker = self._broker(s8, broker, self.limits.history_size)
        """Where messages come from and where `POST /publish` puts them."""
        self.presence: PresenceStore = MemoryPresence() if presence is None else presence
        """The presence store."""
        self.history: HistoryStore = self.broker if history is None else history
        """Where `GET /history` reads."""
        if isinstance(channels, ChannelTree):
            channels = [channels]
        self.rules = ChannelRules(channels or (), self.limits.max_presence_bytes)
        """What the channel trees say about each channel."""
        self.allowed_origins = None if allowed_origins is None else frozenset(allowed_origins)
        self.stats = GatewayStats()
        """Counters."""
        self._hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = (
            weakref.WeakKeyDictionary()
        )
        self._sessions: set[Session] = set()
        routes: list[BaseRoute] = [WebSocketRoute("/connect", self._connect)]
        routes += http_routes(self)
        self.app = Starlette(routes=routes, exception_handlers=http_exception_handlers())
        """The ASGI application."""
        self.app.state.gateway = self

    @staticmethod
    def _verifiers(
        s8: Sock8 | None,
        secret: str | bytes | KeyRing | None,
        audience: str | None,
        issuer: str | None,
        leeway: float,
    ) -> tuple[Verifier, Verifier]:
        if s8 is not None:
            if secret is not None or audience is not _UNSET or issuer is not None:
                raise ConfigError("pass either s8 or secret/audience/issuer, not both")
            return s8.verifier(leeway=leeway), s8.publish_verifier(leeway=leeway)
        if audience is _UNSET:
            audience = DEFAULT_AUDIENCE
        # A client audience ending with ":publish" would let client tokens publish.
        check_client_audience(audience)
        key = secret if isinstance(secret, KeyRing) else secret_or_environment(secret, "secret=...")

        def verifier(audience: str | None) -> Verifier:
            if isinstance(key, KeyRing):
                return key.verifier(audience=audience, issuer=issuer, leeway=leeway)
            return Verifier(key, audience=audience, issuer=issuer, leeway=leeway)

        return verifier(audience), verifier(publish_audience(audience))

    def _broker(self, s8: Sock8 | None, broker: Broker | None, history_size: int) -> Broker:
        current = None if s8 is None else s8.publisher
        if broker is None:
            if isinstance(current, Broker):
                broker = current
            else:
                broker = MemoryBroker(history_size=history_size, clock=self.clock.time)
        elif isinstance(current, Broker) and current is not broker:
            raise ConfigError(
                "s8.publisher is another broker than the gateway's: emits would not reach it"
            )
        if s8 is not None and isinstance(current, HttpPublisher):
            # With the gateway in this process, emit goes to it in-process, not over HTTP.
            s8.publisher = broker
        return broker

    @property
    def connections(self) -> int:
        """Open WebSocket connections."""
        return self.stats.connections

    def hub(self) -> Hub:
        """The running loop's hub (one per loop the app is served on)."""
        loop = asyncio.get_running_loop()
        hub = self._hubs.get(loop)
        if hub is None:
            hub = self._hubs[loop] = Hub(self.broker, loop)
        return hub

    def forget(self, session: Session) -> None:
        """Called by a session's teardown."""
        if session in self._sessions:
            self._sessions.discard(session)
            self.stats.connections -= 1

    async def _connect(self, websocket: WebSocket) -> None:
        if self.allowed_origins is not None:
            origin = websocket.headers.get("origin")
            if origin is not None and origin not in self.allowed_origins:
                logger.info("refused a WebSocket from origin %r", origin[:200])
                # Before accept: the server answers the upgrade with HTTP 403.
                await websocket.close(CLOSE_FORBIDDEN)
                return
        session = Session(self, websocket, self.hub())
        self._sessions.add(session)
        self.stats.connections += 1
        try:
            session.arm()
            await session.run()
        finally:
            self.forget(session)

    def __repr__(self) -> str:
        return f"<Gateway connections={self.stats.connections} broker={self.broker!r}>"


def _taking_the_arguments_of(
    source: Callable[P, object],
) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give the decorated function `source`'s parameters: for type checkers (through `P`, so
    that every call is checked against them) and for `help` and `inspect.signature`."""

    def decorate(function: Callable[..., R]) -> Callable[P, R]:
        returns = inspect.signature(function).return_annotation
        signature = inspect.signature(source).replace(return_annotation=returns)
        function.__signature__ = signature  # type: ignore[attr-defined]
        return function

    return decorate


@_taking_the_arguments_of(Gateway)
def create_app(*args: Any, **kwargs: Any) -> Starlette:
    """The sock8 gateway as an ASGI application: `Gateway(...).app`.

    Mount it anywhere (`Mount("/realtime", app=create_app(s8))`) or serve it with
    `sock8 gateway`. The arguments are `Gateway`'s; the gateway is at `app.state.gateway`.
    """
    return Gateway(*args, **kwargs).app
