"""One client connection: authentication, subscriptions, presence, refresh and expiry.

A session runs two tasks besides the ASGI one: a reader, which handles client frames in order,
and a writer, the only coroutine that sends, which drains the session's queue (an `Outbox`,
bounded in bytes). Everything else (the hub's fan-out, timers, presence updates) only *offers*
frames to that queue, so that nothing ever waits on this client. A connection whose unsent bytes
would pass `send_buffer` is a slow consumer: its queue is dropped, and it is sent the
`slow_consumer` error and closed with 4008 (or dropped, if it does not take them within
`close_timeout`). The reader stops reading while more than `_read_pause` bytes wait unsent, so
that the replies to a burst of requests never make a reading client a slow consumer: the client's
own requests then wait in TCP, as for any busy server. Any ending (client gone, bad frame,
expiry, overflow, refused refresh) goes through `close()`, and every per-connection structure is
released in the one `finally` of `run()`.

Requests after `auth` are rate limited per connection (`TokenBucket`s on the gateway's clock): a
refused one gets a `rate_limited` error, sent as a notice that is not repeated while one waits.

A session sees its gateway through `SessionHost`: the verifier, clock, presence store, channel
rules, limits and counters, and `forget` for its end; the hub it is given on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from sock8._core import Grants, Verifier
from sock8.errors import TokenError
from sock8.gateway import frames
from sock8.gateway.frames import (
    CLOSE_BAD_FRAME,
    CLOSE_INTERNAL,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHORIZED,
    Auth,
    BadFrame,
    ClientFrame,
    GetPresence,
    Refresh,
    SetPresence,
    Subscribe,
    Unsubscribe,
)
from sock8.gateway.limits import Limits
from sock8.gateway.outbox import Outbox, PresenceChange
from sock8.gateway.presence import PresenceStore
from sock8.gateway.ratelimit import TokenBucket
from sock8.gateway.rules import ChannelRules
from sock8.gateway.stats import GatewayStats

if TYPE_CHECKING:
    from sock8.gateway.clock import Clock, Timer
    from sock8.gateway.hub import Hub

__all__ = ["Session", "SessionHost"]

logger = logging.getLogger("sock8.gateway")


def _invalid(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'data'}: {error['msg']}"
            for error in exc.errors()[:5]
        ]
        return "; ".join(problems)
    return str(exc)


READ_PAUSE_BYTES = 64 * 1024
"""The reader waits while more than this (or a quarter of `send_buffer`, if less) waits unsent."""


def _write_buffer(websocket: WebSocket) -> Callable[[], int] | None:
    """How to read the server's write buffer of this connection, if the ASGI server lets it.

    Not part of ASGI: uvicorn's protocols (websockets, websockets-sansio, wsproto) give the app a
    bound method of the protocol as `send`, and the protocol holds its asyncio transport;
    Starlette wraps `send` in closures. Elsewhere, `None`: only the queue counts.
    """
    pending: list[object] = [websocket._send]  # Starlette keeps no public one
    for _ in range(8):
        if not pending:
            break
        send = pending.pop()
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        size = getattr(transport, "get_write_buffer_size", None)
        if callable(size):
            return size  # type: ignore[no-any-return]
        for cell in getattr(send, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                if callable(cell.cell_contents):
                    pending.append(cell.cell_contents)
    return None


class SessionHost(Protocol):
    """What a session needs of its gateway (`Gateway` is one)."""

    @property
    def verifier(self) -> Verifier:
        """Verifies the `auth` and `refresh` tokens."""

    @property
    def clock(self) -> Clock:
        """Time for token checks, deadlines, expiry, rate limits and presence."""

    @property
    def presence(self) -> PresenceStore:
        """The presence store."""

    @property
    def rules(self) -> ChannelRules:
        """Which channels have presence, and how their data is checked."""

    @property
    def limits(self) -> Limits:
        """Send buffer, frame size, timeouts, rates, leeway."""

    @property
    def stats(self) -> GatewayStats:
        """The counters a session adds to: slow consumers, rate-limited requests."""

    def forget(self, session: Session) -> None:
        """Called once by the session's teardown."""


class Session:
    """One WebSocket connection to the gateway. Internal: `Gateway` creates and runs it."""

    __slots__ = (
        "_close_code",
        "_close_frame",
        "_closing",
        "_deadline",
        "_disconnected",
        "_ended",
        "_expiry",
        "_gateway",
        "_hub",
        "_members",
        "_outbox",
        "_presence_limit",
        "_read_pause",
        "_reader",
        "_request_limit",
        "_subscribed",
        "_websocket",
        "_writer",
        "grants",
        "id",
    )

    def __init__(self, gateway: SessionHost, websocket: WebSocket, hub: Hub) -> None:
        self._gateway = gateway
        self._websocket = websocket
        self._hub = hub
        self.id = uuid.uuid4().hex
        """This connection's id: its presence membership key."""
        self.grants: Grants | None = None
        """What the current token grants; `None` until the `auth` frame is verified."""
        limits = gateway.limits
        self._outbox = Outbox(limits.send_buffer, _write_buffer(websocket))
        self._read_pause = min(READ_PAUSE_BYTES, limits.send_buffer // 4)
        now = gateway.clock.time()
        self._request_limit = TokenBucket(limits.request_rate, limits.request_burst, now)
        self._presence_limit = TokenBucket(limits.presence_rate, limits.presence_burst, now)
        self._subscribed: set[str] = set()
        self._members: set[str] = set()
        self._closing = False
        self._close_code: int | None = None
        self._close_frame: str | None = None
        self._disconnected = False
        self._ended = asyncio.Event()
        self._deadline: Timer | None = None
        self._expiry: Timer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    # Called by the hub, timers and handlers: never await, never block.

    def offer(self, frame: str, size: int | None = None) -> None:
        """Queue `frame` (of UTF-8 `size`, when known) for the writer; past `send_buffer`, the
        connection is closed with 4008."""
        if not self._closing and not self._outbox.put(frame, size):
            self._overflow()

    def offer_presence(self, change: PresenceChange) -> None:
        """Queue a presence change, merged with the channel's changes still waiting (see
        `Outbox`); past `send_buffer`, the connection is closed with 4008."""
        if not self._closing and not self._outbox.put_presence(change):
            self._overflow()

    def _notice(self, kind: str, frame: str) -> None:
        if not self._closing and not self._outbox.put_notice(kind, frame):
            self._overflow()

    def _overflow(self) -> None:
        self._gateway.stats.slow_consumers += 1
        logger.info("closing a slow consumer (%s): its send buffer is full", self._who())
        # Lost anyway: the memory is released now, and the error goes out next.
        self._outbox.clear()
        self.close(
            CLOSE_SLOW_CONSUMER,
            frames.error("slow_consumer", "the send queue overflowed; messages were lost"),
        )

    def close(self, code: int | None, frame: str | None = None) -> None:
        """End the session: send `frame` (an error) and close with `code`, or just stop when
        `code` is `None` (the client is gone). Only the first call counts."""
        if self._closing:
            return
        self._closing = True
        self._close_code = code
        self._close_frame = frame
        # `offer` drops everything from now on. The hub itself is left in the teardown: this
        # may run inside the hub's fan-out loop, which must not see its subscribers change.
        self._ended.set()

    # The connection's life.

    def arm(self) -> None:
        """Start the auth deadline; called before the socket is accepted, so that the deadline
        exists as soon as the client sees the connection open."""
        clock = self._gateway.clock
        self._deadline = clock.call_at(
            clock.time() + self._gateway.limits.auth_timeout, self._auth_timeout
        )

    async def run(self) -> None:
        """Accept the socket and serve the connection until it ends; `arm` first."""
        try:
            await self._websocket.accept()
            self._writer = asyncio.create_task(self._write())
            self._reader = asyncio.create_task(self._read())
            await self._ended.wait()
        finally:
            await self._teardown()

    def _auth_timeout(self) -> None:
        if self.grants is None:
            self.close(CLOSE_UNAUTHORIZED, frames.error("auth_timeout", "no auth frame in time"))

    def _expire(self) -> None:
        self.close(
            CLOSE_UNAUTHORIZED, frames.error("expired", "the token expired; refresh it before exp")
        )

    async def _read(self) -> None:
        gateway = self._gateway
        receive = self._websocket.receive
        outbox = self._outbox
        pause = self._read_pause
        try:
            while not self._closing:
                event = await receive()
                if event["type"] == "websocket.disconnect":
                    self._disconnected = True
                    self.close(None)
                    return
                try:
                    frame = frames.parse_client_frame(
                        event.get("text"), gateway.limits.max_frame_bytes
                    )
                except BadFrame as exc:
                    self.close(CLOSE_BAD_FRAME, frames.error("bad_frame", str(exc)))
                    return
                await self._handle(frame)
                if outbox.bytes > pause:
                    # The server may hand over buffered frames without yielding: let the writer
                    # send the replies before reading more (TCP holds the client's requests).
                    await outbox.drained(pause)
        except Exception:
            if not self._closing:
                logger.exception("a connection's reader failed (%s)", self._who())
                self.close(CLOSE_INTERNAL, frames.error("internal", "gateway error; reconnect"))

    async def _write(self) -> None:
        outbox = self._outbox
        send = self._websocket.send
        take = outbox.take
        try:
            while True:
                # One wake-up, everything queued sent.
                frame = take()
                while frame is not None:
                    await send({"type": "websocket.send", "text": frame})
                    frame = take()
                await outbox.wait()
        except Exception:
            # The client went away mid-send (WebSocketDisconnect, ClientDisconnected, ...).
            self._disconnected = True
            self.close(None)

    async def _handle(self, frame: ClientFrame) -> None:
        grants = self.grants
        if grants is None:
            if isinstance(frame, Auth):
                self._authenticate(frame.token)
            else:
                self.close(
                    CLOSE_BAD_FRAME, frames.error("bad_frame", "the first frame must be auth")
                )
            return
        if isinstance(frame, Auth):
            self.close(
                CLOSE_BAD_FRAME, frames.error("bad_frame", "already authenticated; use refresh")
            )
            return
        if not self._within_limits(frame):
            return
        match frame:
            case Subscribe(channel):
                if self._allowed(grants, channel):
                    if channel not in self._subscribed:
                        self._subscribed.add(channel)
                        self._hub.add(channel, self)
                    self.offer(frames.dumps({"event": "subscribed", "channel": channel}))
            case Unsubscribe(channel):
                if channel in self._subscribed:
                    self._subscribed.discard(channel)
                    self._hub.remove(channel, self)
                await self._leave_presence(channel)
                self.offer(frames.dumps({"event": "unsubscribed", "channel": channel}))
            case SetPresence(channel, data):
                await self._set_presence(grants, channel, data)
            case GetPresence(channel):
                if self._allowed(grants, channel) and self._has_presence(channel):
                    state = await self._gateway.presence.state(channel)
                    self.offer(
                        frames.dumps(
                            {
                                "event": "presenceState",
                                "channel": channel,
                                "state": {who: entry.as_json() for who, entry in state.items()},
                            }
                        )
                    )
            case Refresh(token):
                await self._refresh(grants, token)

    def _within_limits(self, frame: ClientFrame) -> bool:
        """Spend the request's tokens; when a bucket is empty, answer `rate_limited`."""
        now = self._gateway.clock.time()
        if self._request_limit.take(now):
            if not isinstance(frame, SetPresence) or self._presence_limit.take(now):
                return True
            message = "too many setPresence requests; slow down"
        else:
            message = "too many requests; slow down"
        self._gateway.stats.rate_limited += 1
        channel = None if isinstance(frame, Refresh | Auth) else frame.channel
        # A notice: while one waits unsent, a flood of refused requests queues nothing more.
        self._notice("rate_limited", frames.error("rate_limited", message, channel))
        return False

    # Tokens.

    def _verify(self, token: str) -> Grants | str:
        try:
            return self._gateway.verifier.verify(token, now=self._gateway.clock.time())
        except TokenError as exc:
            return str(exc)

    def _authenticate(self, token: str) -> None:
        grants = self._verify(token)
        if isinstance(grants, str):
            logger.debug("refused a token: %s", grants)
            self.close(CLOSE_UNAUTHORIZED, frames.error("unauthorized", grants))
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.grants = grants
        self._schedule_expiry(grants)
        # The welcome is queued before any channel is joined, so it is the first frame.
        self.offer(
            frames.dumps(
                {
                    "event": "welcome",
                    "identity": grants.identity,
                    "channels": list(grants.channels),
                    "expiresAt": grants.expires_at,
                }
            )
        )
        for channel in grants.channels:
            self._subscribed.add(channel)
            self._hub.add(channel, self)

    async def _refresh(self, current: Grants, token: str) -> None:
        grants = self._verify(token)
        if isinstance(grants, str):
            self.close(
                CLOSE_UNAUTHORIZED, frames.error("unauthorized", f"refresh refused: {grants}")
            )
            return
        if grants.identity != current.identity:
            self.close(
                CLOSE_UNAUTHORIZED,
                frames.error("unauthorized", "refresh refused: the token is for another identity"),
            )
            return
        if grants.issued_at < current.issued_at:
            # An older token may still grant a channel the app has taken away since.
            self.close(
                CLOSE_UNAUTHORIZED,
                frames.error(
                    "unauthorized", "refresh refused: the token is older than the current one"
                ),
            )
            return
        # Narrowing first, before any await: no frame of a revoked channel is queued after this.
        revoked = [channel for channel in self._subscribed if not grants.allows(channel)]
        for channel in revoked:
            self._subscribed.discard(channel)
            self._hub.remove(channel, self)
        added = [channel for channel in grants.channels if not current.allows(channel)]
        for channel in added:
            self._subscribed.add(channel)
            self._hub.add(channel, self)
        self.grants = grants
        self._schedule_expiry(grants)
        for channel in [channel for channel in self._members if not grants.allows(channel)]:
            await self._leave_presence(channel)
        self.offer(
            frames.dumps(
                {
                    "event": "refreshed",
                    "channels": list(grants.channels),
                    "expiresAt": grants.expires_at,
                }
            )
        )

    def _schedule_expiry(self, grants: Grants) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        gateway = self._gateway
        self._expiry = gateway.clock.call_at(
            grants.expires_at + gateway.limits.leeway, self._expire
        )

    # Channels and presence.

    def _allowed(self, grants: Grants, channel: str) -> bool:
        if grants.allows(channel):
            return True
        self.offer(frames.error("forbidden", "channel not granted", channel))
        return False

    def _has_presence(self, channel: str) -> bool:
        if self._gateway.rules.presence_allowed(channel):
            return True
        self.offer(frames.error("forbidden", "channel has no presence", channel))
        return False

    async def _set_presence(self, grants: Grants, channel: str, data: dict[str, Any]) -> None:
        if not (self._allowed(grants, channel) and self._has_presence(channel)):
            return
        if channel not in self._subscribed:
            # A connection that does not receive the channel has no business in its presence:
            # it would broadcast to a room it does not listen to.
            self.offer(
                frames.error("not_subscribed", "subscribe to the channel to set presence", channel)
            )
            return
        gateway = self._gateway
        was_member = channel in self._members
        # Recorded before the await: a teardown that interrupts the update still leaves.
        self._members.add(channel)
        try:
            entry = await gateway.presence.update(
                channel,
                grants.identity,
                self.id,
                data,
                now_ms=int(gateway.clock.time() * 1000),
                validate=gateway.rules.presence_validator(channel),
            )
        except ValueError as exc:
            if not was_member:
                self._members.discard(channel)
            self.offer(frames.error("invalid_presence", _invalid(exc), channel))
            return
        self._hub.broadcast_presence(PresenceChange(channel, grants.identity, entry))

    async def _leave_presence(self, channel: str) -> None:
        if channel not in self._members or self.grants is None:
            return
        identity = self.grants.identity
        removed = await self._gateway.presence.leave(channel, identity, self.id)
        # Forgotten after the await: an interrupted leave is retried by the teardown.
        self._members.discard(channel)
        if removed:
            self._hub.broadcast_presence(PresenceChange(channel, identity, None))

    # The end.

    def _leave_hub(self) -> None:
        for channel in self._subscribed:
            self._hub.remove(channel, self)
        self._subscribed.clear()

    async def _teardown(self) -> None:
        gateway = self._gateway
        self._closing = True
        self._leave_hub()
        for timer in (self._deadline, self._expiry):
            if timer is not None:
                timer.cancel()
        self._deadline = self._expiry = None
        tasks = [task for task in (self._reader, self._writer) if task is not None]
        for task in tasks:
            task.cancel()
        # Wait for them so that no task outlives the connection; their errors were handled.
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            for channel in list(self._members):
                await self._leave_presence(channel)
        except Exception:
            logger.exception("leaving presence failed (%s)", self._who())
        self._members.clear()
        gateway.forget(self)
        code = self._close_code
        if code is None or self._disconnected:
            return
        # Bounded: a client that does not read must not hold the task forever.
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            async with asyncio.timeout(gateway.limits.close_timeout):
                if self._close_frame is not None:
                    await self._websocket.send_text(self._close_frame)
                await self._websocket.close(code)

    def _who(self) -> str:
        return f"connection {self.id[:8]}" + (
            "" if self.grants is None else f" of {self.grants.identity!r}"
        )

    def __repr__(self) -> str:
        return f"<Session {self._who()}>"
