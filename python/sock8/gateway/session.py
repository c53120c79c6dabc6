"""One client connection: authentication, subscriptions, presence, refresh and expiry.

A session knows nothing of the server that carries it: it talks to a `Transport`
(gateway/transport.py), which hands it each client frame (`received`) and tells it when its
buffer has drained (`resume_writing`) and when the connection is gone (`lost`).

Sending never awaits. While the transport is `writable`, a frame is written at once (the same
bytes object for every subscriber of a message); while, besides, nothing waits anywhere and the
transport exposes its socket, the session offers the hub that socket (`direct_fd`), to which
the hub writes a message's frame itself. Once the socket is backed up, frames wait in
the session's `Outbox` (presence changes coalesced, notices not repeated) and are written when
the transport drains. A connection whose unsent bytes (the transport's buffer plus the outbox)
would pass `send_buffer` is a slow consumer: its outbox is dropped, and it is sent the
`slow_consumer` error and closed with 4008 behind what its transport holds, or dropped if it does
not take them within `close_timeout`.

Requests are handled in order, as they arrive, without a task of their own: a handler runs to
its end synchronously unless it waits on the presence store, and only then does the rest of it
(and the requests that arrive meanwhile, held in order) run in a task. Reading stops while the
replies wait unsent (the socket is backed up by a high-water mark's worth: min(64 KiB,
`send_buffer`/4)) or while a request waits for an earlier one: the
client's requests then wait in TCP, as for any busy server, so replies to a burst of requests
never make a reading client a slow consumer. Any ending (client gone, bad frame, expiry,
overflow, refused refresh) goes through `close()`, and every per-connection structure is released
by one teardown task.

Requests after `auth` are rate limited per connection (`TokenBucket`s on the gateway's clock): a
refused one gets a `rate_limited` error, sent as a notice that is not repeated while one waits.

A session sees its gateway through `SessionHost`: the token checks, clock, presence store, channel
rules, limits and counters, and `forget` for its end; the hub it is given on its own.
"""

from __future__ import annotations

import asyncio
import logging
import types
import uuid
from collections import deque
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from sock8._core import Grants
from sock8.errors import TokenError
from sock8.gateway import frames, recovery
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
from sock8.gateway.outbox import Outbox, PresenceChange, encode
from sock8.gateway.presence import PresenceStore
from sock8.gateway.ratelimit import TokenBucket
from sock8.gateway.rules import ChannelRules
from sock8.gateway.stats import GatewayStats, refusal_reason
from sock8.gateway.transport import high_water
from sock8.logs import connection_fields
from sock8.publisher import Position

if TYPE_CHECKING:
    from sock8.gateway.clock import Clock, Timer
    from sock8.gateway.hub import Hub
    from sock8.gateway.tokens import ClientTokens
    from sock8.gateway.transport import Transport

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


_OUTPUT = 1
"""A reason to stop reading: replies wait unsent."""
_WORK = 2
"""A reason to stop reading: a request waits for an earlier one still being handled."""


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, None], pending: Any) -> Generator[Any, Any, None]:
    """Carry on, inside a task, a coroutine that was started outside one and is suspended on
    `pending` (what it yielded: a future, or `None` for a bare yield).

    The task waits on `pending` as if the coroutine had been its own from the start, and every
    later suspension, result or exception (cancellation included) passes straight through.
    """
    while True:
        try:
            yield pending
        except BaseException as exc:
            try:
                pending = coroutine.throw(exc)
            except StopIteration:
                return
            continue
        try:
            pending = coroutine.send(None)
        except StopIteration:
            return


class SessionHost(Protocol):
    """What a session needs of its gateway (`Gateway` is one)."""

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

    @property
    def tokens(self) -> ClientTokens:
        """Verifies the `auth` and `refresh` tokens: the verifier, then revocations."""

    def forget(self, session: Session) -> None:
        """Called once by the session's teardown."""


class Session:
    """One WebSocket connection to the gateway. Internal: `Gateway` creates it for a transport."""

    __slots__ = (
        "_closing",
        "_deadline",
        "_end",
        "_expiry",
        "_gateway",
        "_hub",
        "_members",
        "_outbox",
        "_paused",
        "_presence_limit",
        "_read_limit",
        "_request_limit",
        "_subscribed",
        "_transport",
        "_waiting",
        "_work",
        "direct_fd",
        "grants",
        "id",
    )

    def __init__(self, gateway: SessionHost, transport: Transport, hub: Hub) -> None:
        self._gateway = gateway
        self._transport = transport
        self._hub = hub
        self.id = uuid.uuid4().hex
        """This connection's id: its presence membership key."""
        self.grants: Grants | None = None
        """What the current token grants; `None` until the `auth` frame is verified."""
        limits = gateway.limits
        self._outbox = Outbox(limits.send_buffer, transport.buffered)
        self._read_limit = high_water(limits.send_buffer)
        now = gateway.clock.time()
        self._request_limit = TokenBucket(limits.request_rate, limits.request_burst, now)
        self._presence_limit = TokenBucket(limits.presence_rate, limits.presence_burst, now)
        self._subscribed: set[str] = set()
        self._members: set[str] = set()
        self._closing = False
        self._paused = 0
        self._deadline: Timer | None = None
        self._expiry: Timer | None = None
        # The request being handled in a task (it waits on the presence store), and the ones
        # that arrived meanwhile; `None` when there are none, the common case.
        self._work: asyncio.Task[None] | None = None
        self._waiting: deque[str | None] | None = None
        self._end: asyncio.Task[None] | None = None
        self.direct_fd = transport.socket_fd if transport.writable else -1
        """A socket the hub may write a message's frame to itself (see `Sink.direct_fd`), or
        `-1`: set while the session is open, its outbox empty and its transport's buffer
        empty (from `resume_writing` to `buffering`)."""

    @property
    def pending(self) -> int:
        """Bytes this connection has not taken yet: the outbox and the transport's buffer."""
        return self._outbox.bytes + self._transport.buffered()

    # Called by the hub, timers and handlers: never await, never block.

    def offer(self, frame: bytes) -> None:
        """Write `frame` (UTF-8), or queue it while the socket is backed up; past
        `send_buffer`, the connection is closed with 4008."""
        if self._closing:
            return
        outbox = self._outbox
        if not outbox.items and self._transport.writable:
            self._transport.write(frame)
        elif not outbox.put(frame):
            self._overflow()

    def offer_presence(self, change: PresenceChange) -> None:
        """Write a presence change, or queue it merged with the channel's changes still waiting
        (see `Outbox`); past `send_buffer`, the connection is closed with 4008."""
        if self._closing:
            return
        outbox = self._outbox
        if not outbox.items and self._transport.writable:
            self._transport.write(change.frame)
        elif not outbox.put_presence(change):
            self._overflow()

    def write_rest(self, data: memoryview) -> None:
        """The rest of a frame the hub wrote to `direct_fd` in part: behind it, never dropped
        (what the socket does not take at once waits in the transport: `buffering` follows)."""
        self._transport.write_framed(data)

    def _reply(self, frame: str) -> None:
        self.offer(encode(frame))

    def _notice(self, kind: str, frame: str) -> None:
        if self._closing:
            return
        outbox = self._outbox
        if not outbox.items and self._transport.writable:
            self._transport.write(encode(frame))
        elif not outbox.put_notice(kind, encode(frame)):
            self._overflow()

    def _overflow(self) -> None:
        self._gateway.stats.slow_consumers += 1
        logger.info(
            "closing a slow consumer (%s): its send buffer is full",
            self._who(),
            extra=self._fields("slow_consumer"),
        )
        self.close(
            CLOSE_SLOW_CONSUMER,
            frames.error("slow_consumer", "the send queue overflowed; messages were lost"),
        )

    def close(self, code: int | None, frame: str | None = None) -> None:
        """End the session: send `frame` (an error) and close with `code` behind what the
        transport holds, or drop the connection when `code` is `None` (the client is gone).
        Only the first call counts."""
        if self._closing:
            return
        self._closing = True
        self.direct_fd = -1
        # `offer` drops everything from now on, and what waits is lost anyway: its memory is
        # released now.
        self._outbox.clear()
        if code is None:
            self._transport.abort()
        else:
            self._transport.close(code, None if frame is None else encode(frame))
        # The hub itself is left in the teardown: this may run inside the hub's fan-out loop,
        # which must not see its subscribers change.
        self._end = asyncio.get_running_loop().create_task(self._teardown())

    async def wait_closed(self) -> None:
        """Return once the session has ended and released everything (after `close`)."""
        if self._end is not None:
            await asyncio.shield(self._end)

    # The connection's life.

    def arm(self, opened_at: float | None = None) -> None:
        """Start the auth deadline, counted from `opened_at` (the gateway's time when the
        upgrade was accepted; default now). Called before the client can see the connection
        open, or given the time from before then: a client that is told the connection is open
        must find the deadline running from that moment."""
        clock = self._gateway.clock
        start = clock.time() if opened_at is None else opened_at
        self._deadline = clock.call_at(
            start + self._gateway.limits.auth_timeout, self._auth_timeout
        )

    def _auth_timeout(self) -> None:
        if self.grants is None:
            self._gateway.stats.connected("auth_timeout")
            self.close(CLOSE_UNAUTHORIZED, frames.error("auth_timeout", "no auth frame in time"))

    def _expire(self) -> None:
        self.close(
            CLOSE_UNAUTHORIZED, frames.error("expired", "the token expired; refresh it before exp")
        )

    # What the transport calls.

    def received(self, text: str | None) -> None:
        """Handle one client frame (`None`: a binary one), after the ones before it."""
        if self._closing:
            return
        if self._work is not None:
            # An earlier request waits on the presence store: this one waits its turn, and no
            # more are read meanwhile.
            if self._waiting is None:
                self._waiting = deque()
            self._waiting.append(text)
            self._pause(_WORK)
            return
        frame = self._parse(text)
        if frame is not None:
            coroutine = self._handle(frame)
            try:
                # Most requests never wait: they run to their end right here.
                pending = coroutine.send(None)
            except StopIteration:
                pass
            except Exception:
                self._failed()
            else:
                self._work = asyncio.get_running_loop().create_task(
                    self._finish(coroutine, pending)
                )
        self._push_back()

    def buffering(self) -> None:
        """The transport holds bytes (or the connection is closing): the hub writes to the
        socket no more, until `resume_writing`."""
        self.direct_fd = -1

    def resume_writing(self) -> None:
        """Write what waits in the outbox while the transport takes it; once all of it is
        written, read again and offer the hub the socket again."""
        outbox = self._outbox
        transport = self._transport
        while transport.writable:
            frame = outbox.take()
            if frame is None:
                break
            transport.write(frame)
        if outbox or not transport.writable or self._closing:
            return
        self.direct_fd = transport.socket_fd
        if self._paused & _OUTPUT:
            self._resume(_OUTPUT)

    def lost(self) -> None:
        """The connection is gone: end the session."""
        self.close(None)

    def _push_back(self) -> None:
        # Not at the first byte that waits (the standalone server's transport stops being
        # writable there): a client that reads, but a little behind, is still read, its pongs
        # included.
        if (
            not self._paused & _OUTPUT
            and (self._outbox or not self._transport.writable)
            and self.pending >= self._read_limit
        ):
            self._pause(_OUTPUT)

    def _pause(self, reason: int) -> None:
        if not self._paused:
            self._transport.pause_reading()
        self._paused |= reason

    def _resume(self, reason: int) -> None:
        self._paused &= ~reason
        if not self._paused and not self._closing:
            self._transport.resume_reading()

    def _parse(self, text: str | None) -> ClientFrame | None:
        try:
            return frames.parse_client_frame(text, self._gateway.limits.max_frame_bytes)
        except BadFrame as exc:
            if self.grants is None and not self._closing:
                self._gateway.stats.connected("bad_frame")
            self.close(CLOSE_BAD_FRAME, frames.error("bad_frame", str(exc)))
            return None

    def _failed(self) -> None:
        if not self._closing:
            logger.exception(
                "handling a request failed (%s)", self._who(), extra=self._fields("internal")
            )
            self.close(CLOSE_INTERNAL, frames.error("internal", "gateway error; reconnect"))

    async def _finish(self, coroutine: Coroutine[Any, Any, None], pending: Any) -> None:
        """The rest of a request that waits, then the requests that arrived meanwhile."""
        try:
            await _resume(coroutine, pending)
            while self._waiting and not self._closing:
                frame = self._parse(self._waiting.popleft())
                if frame is not None:
                    await self._handle(frame)
                self._push_back()
        except asyncio.CancelledError:
            raise
        except Exception:
            self._failed()
        finally:
            self._work = None
            self._waiting = None
            if self._paused & _WORK:
                self._resume(_WORK)

    async def _handle(self, frame: ClientFrame) -> None:
        grants = self.grants
        if grants is None:
            if isinstance(frame, Auth):
                await self._authenticate(frame.token)
            else:
                self._gateway.stats.connected("bad_frame")
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
            case Subscribe(channel, since):
                if self._allowed(grants, channel):
                    if channel not in self._subscribed:
                        self._subscribed.add(channel)
                        self._hub.add(channel, self)
                    await self._subscribe_history(channel, since)
            case Unsubscribe(channel):
                if channel in self._subscribed:
                    self._subscribed.discard(channel)
                    self._hub.remove(channel, self)
                await self._leave_presence(channel)
                self._reply(frames.dumps({"event": "unsubscribed", "channel": channel}))
            case SetPresence(channel, data):
                await self._set_presence(grants, channel, data)
            case GetPresence(channel):
                if self._allowed(grants, channel) and self._has_presence(channel):
                    try:
                        state = await self._gateway.presence.state(channel)
                    except Exception as exc:
                        self._unavailable(channel, exc)
                        return
                    self._reply(
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

    def _verify(self, token: str) -> Grants | TokenError:
        try:
            return self._gateway.tokens.verify(token)
        except TokenError as exc:
            return exc

    async def _subscribe_history(self, channel: str, since: Position | None) -> None:
        """Answer a `subscribe`: with what was missed since `since` and the channel's position,
        when the client gave one and the channel has history (gateway/recovery.py)."""
        if since is None or not recovery.history_channels(
            self._hub, self._gateway.rules, [channel]
        ):
            self._reply(frames.dumps({"event": "subscribed", "channel": channel}))
            return
        try:
            await recovery.subscribe(
                self._hub,
                self,
                channel,
                since,
                lambda: channel in self._subscribed and not self._closing,
            )
        except Exception as exc:
            self._unavailable(channel, exc, "history")

    async def _authenticate(self, token: str) -> None:
        grants = self._verify(token)
        if isinstance(grants, TokenError):
            reason = refusal_reason(grants)
            self._gateway.stats.connected("unauthorized", reason)
            logger.debug("refused a token: %s", grants, extra=self._fields("unauthorized", reason))
            self.close(CLOSE_UNAUTHORIZED, frames.error("unauthorized", str(grants)))
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.grants = grants
        self._gateway.stats.connected("ok")
        self._schedule_expiry(grants)
        # Joined before the welcome is written (it may reach the socket at once): a client that
        # has its welcome receives whatever is published from then on. The welcome is still the
        # first frame: brokers deliver in later callbacks of the loop, never inside `add`.
        for channel in grants.channels:
            self._subscribed.add(channel)
            self._hub.add(channel, self)
        welcome: dict[str, Any] = {
            "event": "welcome",
            "identity": grants.identity,
            "channels": list(grants.channels),
            "expiresAt": grants.expires_at,
        }
        # Where each history channel stands, read while its live messages are held back: the
        # client counts from there, and those published meanwhile follow the welcome.
        history = recovery.history_channels(self._hub, self._gateway.rules, grants.channels)
        hold = recovery.Hold(self._hub, self, history) if history else None
        positions: dict[str, Position] = {}
        if hold is not None:
            try:
                await hold.ready()
                positions = await recovery.positions(self._hub, history)
            except Exception as exc:
                logger.debug("reading positions failed (%s): %s", self._who(), exc)
            if positions:
                welcome["positions"] = {
                    channel: recovery.position_json(position)
                    for channel, position in positions.items()
                }
        self._reply(frames.dumps(welcome))
        if hold is not None:
            for channel in history:
                hold.release(channel, positions.get(channel), channel in self._subscribed)

    def _refuse_refresh(self, problem: str) -> None:
        self._gateway.stats.refreshed(False)
        self.close(CLOSE_UNAUTHORIZED, frames.error("unauthorized", f"refresh refused: {problem}"))

    async def _refresh(self, current: Grants, token: str) -> None:
        grants = self._verify(token)
        if isinstance(grants, TokenError):
            reason = refusal_reason(grants)
            logger.debug("refused a refresh: %s", grants, extra=self._fields("refresh", reason))
            self._refuse_refresh(str(grants))
            return
        if grants.identity != current.identity:
            self._refuse_refresh("the token is for another identity")
            return
        if grants.issued_at < current.issued_at:
            # An older token may still grant a channel the app has taken away since.
            self._refuse_refresh("the token is older than the current one")
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
        self._gateway.stats.refreshed(True)
        self._schedule_expiry(grants)
        for channel in [channel for channel in self._members if not grants.allows(channel)]:
            await self._leave_presence(channel)
        self._reply(
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
        self._reply(frames.error("forbidden", "channel not granted", channel))
        return False

    def _has_presence(self, channel: str) -> bool:
        if self._gateway.rules.presence_allowed(channel):
            return True
        self._reply(frames.error("forbidden", "channel has no presence", channel))
        return False

    async def _set_presence(self, grants: Grants, channel: str, data: dict[str, Any]) -> None:
        if not (self._allowed(grants, channel) and self._has_presence(channel)):
            return
        if channel not in self._subscribed:
            # A connection that does not receive the channel has no business in its presence:
            # it would broadcast to a room it does not listen to.
            self._reply(
                frames.error("not_subscribed", "subscribe to the channel to set presence", channel)
            )
            return
        gateway = self._gateway
        was_member = channel in self._members
        # Recorded before the await: a teardown that interrupts the update still leaves.
        self._members.add(channel)
        try:
            # A shared store announces the change through the broker: this node must hear it.
            await self._hub.ready(channel)
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
            self._reply(frames.error("invalid_presence", _invalid(exc), channel))
            return
        except Exception as exc:
            # A shared store out of reach: the connection stays, the request fails. Still a
            # member: the update may have landed, and leaving later is harmless if not.
            self._unavailable(channel, exc)
            return
        self._hub.broadcast_presence(PresenceChange(channel, grants.identity, entry))

    def _unavailable(self, channel: str, exc: Exception, what: str = "presence") -> None:
        # Debug only: a store that is down fails every request; the store logs its outage.
        logger.debug(
            "the %s store failed (%s): %s", what, self._who(), exc, extra=self._fields(what)
        )
        self._reply(frames.error("unavailable", f"{what} is unavailable; retry later", channel))

    async def _leave_presence(self, channel: str) -> None:
        if channel not in self._members or self.grants is None:
            return
        identity = self.grants.identity
        try:
            removed = await self._gateway.presence.leave(channel, identity, self.id)
        except Exception as exc:
            # A shared store out of reach forgets the member; its entry expires there.
            logger.debug(
                "leaving presence failed (%s): %s", self._who(), exc, extra=self._fields("presence")
            )
            removed = False
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
        self._leave_hub()
        for timer in (self._deadline, self._expiry):
            if timer is not None:
                timer.cancel()
        self._deadline = self._expiry = None
        work = self._work
        if work is not None and work is not asyncio.current_task():
            work.cancel()
            # Waited for, so that no task outlives the connection; its errors were handled.
            await asyncio.gather(work, return_exceptions=True)
        try:
            for channel in list(self._members):
                await self._leave_presence(channel)
        except Exception:
            logger.exception(
                "leaving presence failed (%s)", self._who(), extra=self._fields("presence")
            )
        self._members.clear()
        self._gateway.forget(self)

    def _fields(self, event: str, reason: str | None = None) -> dict[str, Any]:
        """The `extra` of a log call about this connection (sock8.logs)."""
        return connection_fields(event, self.id, self.grants, reason)

    def _who(self) -> str:
        return f"connection {self.id[:8]}" + (
            "" if self.grants is None else f" of {self.grants.identity!r}"
        )

    def __repr__(self) -> str:
        return f"<Session {self._who()}>"
