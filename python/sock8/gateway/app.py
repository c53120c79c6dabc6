"""`Gateway` and `create_app`: the sock8 gateway as an ASGI (Starlette) application."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from sock8 import _gateway_defaults as defaults
from sock8._auth import checked_origins
from sock8._core import DEFAULT_AUDIENCE, Verifier
from sock8.app import Sock8, secret_or_environment
from sock8.broker import MemoryBroker
from sock8.errors import ConfigError
from sock8.gateway import frames
from sock8.gateway.clock import Clock, SystemClock
from sock8.gateway.frames import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED
from sock8.gateway.http import exception_handlers as http_exception_handlers
from sock8.gateway.http import routes as http_routes
from sock8.gateway.hub import Hub
from sock8.gateway.limits import Limits
from sock8.gateway.metrics import GatewayMetrics, metrics_routes
from sock8.gateway.presence import MemoryPresence, PresenceStore, SharedPresenceStore
from sock8.gateway.revocations import MemoryRevocations, RevocationStore, revoke_routes
from sock8.gateway.rules import ChannelRules
from sock8.gateway.session import Session
from sock8.gateway.stats import GatewayStats
from sock8.gateway.tokens import ClientTokens
from sock8.gateway.transport import Transport, high_water
from sock8.gateway.transport_asgi import AsgiTransport
from sock8.http_publisher import HttpPublisher, check_client_audience, publish_audience
from sock8.keys import KeyRing
from sock8.publisher import Broker, HistoryStore, Status
from sock8.revocation import Revocation
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
    `GET /history/{id}`, `GET /health`, `POST /revoke`, `GET /metrics` (docs/protocol.md).
    `create_app(...)` is `Gateway(...).app`; the gateway is also at `app.state.gateway`.

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
            else a new `MemoryBroker`. A `sock8.redis.RedisBroker` shares fan-out and history
            with every gateway on the same Redis; it is started and stopped with the app.
        presence: the presence store; defaults to a `MemoryPresence`. A
            `sock8.redis.RedisPresence` (with a `RedisBroker` of the same prefix, which
            carries its changes) shares presence with every gateway on the same Redis.
        history: where `GET /history` reads; defaults to the broker (which stores messages
            published with `persist`).
        allowed_origins: when given, a WebSocket upgrade whose `Origin` header is not one of
            these (`https://app.example.com`) is refused with HTTP 403. Requests without an
            `Origin` (not from a browser) are not affected. Compared as browsers send them
            (`HTTPS://App.example.com:443/` is `https://app.example.com`); `*`, a path or a
            single `str` is refused (`ConfigError`, `TypeError`).
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
        max_token_ttl: the longest lifetime (`exp - iat`, seconds) of the client tokens
            accepted; longer-lived ones are refused. A revocation is kept this long (plus
            `leeway`) after its `before`. Defaults to `s8.token_ttl` with `s8`, else a year
            (the longest a sock8 signer signs).
        revocations: where revocations are kept; defaults to a `MemoryRevocations` (one
            process). `s8.revoke(...)` reaches a gateway created with that `s8`.
        metrics: serve `GET /metrics` (Prometheus) and count into its registry
            (`gateway.metrics`); `False` counts only `gateway.stats`.
        metrics_token: when given, `GET /metrics` requires `Authorization: Bearer <it>`.

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
        max_token_ttl: int | None = None,
        revocations: RevocationStore | None = None,
        metrics: bool = True,
        metrics_token: str | None = None,
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
        self.allowed_origins = checked_origins(allowed_origins)
        """The origins whose pages may connect (as browsers send them), or `None`: any."""
        self.clock: Clock = SystemClock() if clock is None else clock
        """The gateway's time."""
        self.verifier, self.publish_verifier = self._verifiers(s8, secret, audience, issuer, leeway)
        self.broker: Broker = self._broker(s8, broker, self.limits.history_size)
        """Where messages come from and where `POST /publish` puts them."""
        self.presence: PresenceStore = MemoryPresence() if presence is None else presence
        """The presence store."""
        self._relayed = isinstance(self.presence, SharedPresenceStore)
        if self._relayed and not self.presence.carried_by(self.broker):  # type: ignore[attr-defined]
            raise ConfigError(
                f"{self.presence!r} announces presence changes through its own broker, "
                f"not {self.broker!r}: pass both (sock8.redis, same prefix)"
            )
        self.history: HistoryStore = self.broker if history is None else history
        """Where `GET /history` reads."""
        if isinstance(channels, ChannelTree):
            channels = [channels]
        self.rules = ChannelRules(channels or (), self.limits.max_presence_bytes)
        """What the channel trees say about each channel."""
        self.metrics = GatewayMetrics() if metrics else None
        """The Prometheus metrics, with their own registry; `None` when off."""
        if metrics_token is not None and not (isinstance(metrics_token, str) and metrics_token):
            raise ConfigError("metrics_token must be a non-empty str")
        self.metrics_token = metrics_token
        self.stats = GatewayStats(self.metrics)
        """Counters."""
        self.revocations: RevocationStore = (
            MemoryRevocations() if revocations is None else revocations
        )
        """The live revocations."""
        self.tokens = ClientTokens(
            self.verifier,
            self.clock,
            self.revocations,
            self._max_token_ttl(s8, max_token_ttl),
            self.stats.verified,
        )
        """Verifies client tokens: the verifier, the lifetime cap, the revocations."""
        self._hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = (
            weakref.WeakKeyDictionary()
        )
        self._sessions: set[Session] = set()
        self._started = False
        routes: list[BaseRoute] = [WebSocketRoute("/connect", self._connect)]
        routes += http_routes(self)
        routes += revoke_routes(self)
        routes += metrics_routes(self)
        self.app = Starlette(
            routes=routes,
            exception_handlers=http_exception_handlers(),
            lifespan=self._lifespan,
            middleware=[Middleware(_StartOnFirstRequest, gateway=self)],
        )
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
        if s8 is not None and (s8.revoker is None or isinstance(s8.revoker, HttpPublisher)):
            # `s8.revoke` reaches this gateway in-process, and through its store every node.
            s8.revoker = self
        return broker

    @staticmethod
    def _max_token_ttl(s8: Sock8 | None, given: int | None) -> int:
        if given is None:
            return defaults.MAX_TOKEN_TTL if s8 is None else s8.token_ttl
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigError(f"max_token_ttl must be a positive int of seconds, not {given!r}")
        return given

    @property
    def broker_status(self) -> str:
        """What `GET /health` reports: `"memory"`, `"ok"` or `"unavailable"`."""
        return self.broker.status if isinstance(self.broker, Status) else "ok"

    def local_channels(self) -> set[str]:
        """The channels with subscribers on this node."""
        return {channel for hub in list(self._hubs.values()) for channel in hub.channels()}

    async def start(self) -> None:
        """Start the broker's subscriptions and the shared presence store's refresh rounds on
        the running loop (those that need it: Redis). The app's lifespan calls it; a server
        that serves the gateway without the Starlette app calls it before serving. Idempotent;
        a gateway mounted in another app (whose lifespan does not reach it) starts on its first
        request."""
        if self._started:
            return
        self._started = True
        start = getattr(self.broker, "start", None)
        if callable(start):
            await start()
        if isinstance(self.presence, SharedPresenceStore):
            await self.presence.start(self.clock, self.local_channels)
        await self.revocations.start(self.clock, self._apply)
        if self.metrics is not None:
            self.metrics.start(self)

    async def stop(self) -> None:
        """Undo `start`: stop the refresh rounds and the subscriptions, close connections."""
        if not self._started:
            return
        self._started = False
        if self.metrics is not None:
            await self.metrics.stop()
        await self.revocations.stop()
        if isinstance(self.presence, SharedPresenceStore):
            await self.presence.stop()
        stop = getattr(self.broker, "stop", None)
        if callable(stop):
            await stop()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    @property
    def connections(self) -> int:
        """Open WebSocket connections."""
        return self.stats.connections

    def hub(self) -> Hub:
        """The running loop's hub (one per loop the app is served on)."""
        loop = asyncio.get_running_loop()
        hub = self._hubs.get(loop)
        if hub is None:
            hub = self._hubs[loop] = Hub(
                self.broker,
                loop,
                relayed=self._relayed,
                # Counted only for the metrics (`int`: the hub's own no-op).
                count=int if self.metrics is None else self.stats.delivered,
            )
        return hub

    def forget(self, session: Session) -> None:
        """Called by a session's teardown."""
        if session in self._sessions:
            self._sessions.discard(session)
            self.stats.connections -= 1

    def refuses_origin(self, origin: str | None) -> bool:
        """Whether a WebSocket upgrade from `origin` (its `Origin` header) is refused by
        `allowed_origins`; a refusal is logged and counted. For the servers that carry the
        gateway (gateway/server.py), not for apps."""
        allowed = self.allowed_origins
        if allowed is None or origin is None or origin in allowed:
            return False
        logger.info("refused a WebSocket from origin %r", origin[:200], extra={"event": "origin"})
        self.stats.connected("origin")
        return True

    async def _connect(self, websocket: WebSocket) -> None:
        if self.refuses_origin(websocket.headers.get("origin")):
            # Before accept: the server answers the upgrade with HTTP 403.
            await websocket.close(CLOSE_FORBIDDEN)
            return
        limits = self.limits
        transport = AsgiTransport(websocket, high_water(limits.send_buffer), limits.close_timeout)
        session = self.open(transport)
        try:
            await transport.serve(session)
        finally:
            session.lost()  # no-op unless the task was cancelled (server shutdown)
            await session.wait_closed()

    def open(self, transport: Transport, opened_at: float | None = None) -> Session:
        """Start a session on a new WebSocket connection (`transport` calls it from now on),
        its auth deadline counted from `opened_at` (the clock's time before the upgrade was
        answered; default now); for the servers that carry the gateway (gateway/server.py), not
        for apps."""
        session = Session(self, transport, self.hub())
        self._sessions.add(session)
        self.stats.connections += 1
        session.arm(opened_at)
        return session

    # Revocation (`sock8.Revoker`).

    def revoke(self, revocation: Revocation) -> None:
        """Revoke on every node (`s8.revoke` calls it): the tokens it names are refused from
        now on, and this node's matching connections are closed with 4001 `revoked`; a shared
        store hands it to the other nodes first, which do the same. Thread-safe.

        Raises:
            PublishError: a shared store could not reach the other nodes; nothing was revoked.
        """
        revocation, until = self._resolved(revocation)
        self.revocations.share(revocation, until)
        self._apply(revocation, until)

    async def arevoke(self, revocation: Revocation) -> None:
        """The async twin of `revoke`."""
        revocation, until = self._resolved(revocation)
        await self.revocations.ashare(revocation, until)
        self._apply(revocation, until)

    def _resolved(self, revocation: Revocation) -> tuple[Revocation, float]:
        """`revocation` with its `before` (default: now), and until when it must be kept."""
        now = self.clock.time()
        revocation = revocation.at(now)
        # Every token it refuses was issued before `before` (a jti's, before now, give or take
        # the leeway on iat), lives at most max_ttl and is accepted up to leeway after exp.
        issued_by = now if revocation.before is None else revocation.before
        return revocation, issued_by + self.tokens.max_ttl + 2 * self.limits.leeway

    def _apply(self, revocation: Revocation, until: float) -> None:
        """Take a revocation, this node's or (through a shared store) another's: keep it, and
        close the matching connections, each on its own loop."""
        self.revocations.add(revocation, until, self.clock.time())
        self.stats.revocation()
        logger.info("revoked %s", revocation, extra={"event": "revoke"})
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, hub in list(self._hubs.items()):
            if loop is running:
                self._close_revoked(revocation, hub)
                continue
            with contextlib.suppress(RuntimeError):  # a loop that has closed has no connections
                loop.call_soon_threadsafe(self._close_revoked, revocation, hub)

    def _close_revoked(self, revocation: Revocation, hub: Hub) -> None:
        closed = 0
        for session in list(self._sessions):
            grants = session.grants
            if grants is not None and session._hub is hub and revocation.matches(grants):
                session.close(CLOSE_UNAUTHORIZED, frames.error("revoked", "the token was revoked"))
                closed += 1
        if closed:
            self.stats.revoked_connections(closed)
            logger.info("closed %d connections: %s", closed, revocation, extra={"event": "revoked"})

    def presence_members(self) -> int:
        """Presence memberships (one per connection and channel) of this node's connections."""
        return sum(len(session._members) for session in list(self._sessions))

    def __repr__(self) -> str:
        return f"<Gateway connections={self.stats.connections} broker={self.broker!r}>"


class _StartOnFirstRequest:
    """Starts the gateway on its first request when no lifespan did (a mounted app)."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.gateway._started and scope["type"] != "lifespan":
            await self.gateway.start()
        await self.app(scope, receive, send)


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
