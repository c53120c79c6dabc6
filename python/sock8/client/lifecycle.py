"""`Lifecycle`: a client's connection over time: connect, serve, reconnect, stop for good."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sock8._backoff import Backoff
from sock8._close_codes import CLOSE_BAD_FRAME, CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED
from sock8.client.dispatch import Dispatcher, decode
from sock8.client.errors import (
    AuthError,
    ClientClosed,
    ClientError,
    ConnectionLost,
    ProtocolError,
    Unauthorized,
)
from sock8.client.grants import GrantState
from sock8.client.inbox import Inbox
from sock8.client.refresher import Refresher
from sock8.client.route import AuthRoute, Token
from sock8.client.values import (
    ChannelReset,
    ChannelsCallback,
    ConnectionState,
    PresenceCallback,
    PresenceUpdate,
    ResetCallback,
    StateCallback,
)

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["MAX_FRAME_BYTES", "Lifecycle"]

logger = logging.getLogger("sock8.client")

MAX_FRAME_BYTES = 4 * 1024 * 1024
"""The largest frame the client accepts from the gateway."""
_TERMINAL_CLOSES = {CLOSE_FORBIDDEN: "refused by policy", CLOSE_BAD_FRAME: "bad frame"}
"""Close codes that another attempt would only repeat: the client stops."""


@dataclass(slots=True)
class _Outcome:
    """How one connection attempt ended."""

    code: int | None = None
    reason: str = ""
    welcomed: bool = False
    uptime: float = 0.0
    error: ClientError | None = None


def _notify(callback: Callable[[Any], object] | None, value: object) -> None:
    if callback is not None:
        try:
            callback(value)
        except Exception:
            # The caller's bug must not break the connection.
            logger.exception("a sock8.Client callback raised")


class Lifecycle:
    """The connection of one `sock8.Client` from `connect()` to `close()`, and the requests
    sent on it. Internal: `Client` delegates to it; the arguments are `Client`'s.

    Attributes:
        route: the app's auth route.
        inbox: the delivered messages.
        grants: what the gateway granted, and what the caller set on top.
    """

    def __init__(
        self,
        route: AuthRoute,
        *,
        origin: str | None,
        backoff: Backoff,
        request_timeout: float,
        open_timeout: float,
        max_queue: int,
        on_state: StateCallback | None,
        on_presence: PresenceCallback | None,
        on_channels: ChannelsCallback | None,
        clock: Callable[[], float],
        on_reset: ResetCallback | None,
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        self.route = route
        self.inbox = Inbox(max_queue)
        self.grants = GrantState()
        self._origin = origin
        self._backoff = backoff
        self._request_timeout = request_timeout
        self._open_timeout = open_timeout
        self._on_state = on_state
        self._on_presence = on_presence
        self._on_reset = on_reset
        self._on_channels = on_channels
        self._clock = clock
        self._sleep = sleep
        self._dispatcher = Dispatcher(
            self.inbox, self.grants, self._presence_changed, self._channel_reset
        )
        self._refresher = Refresher(
            self._refresh_now,
            self.stop,
            self._refresh_due,
            backoff=backoff,
            clock=clock,
            sleep=sleep,
        )
        self._state = ConnectionState.DISCONNECTED
        self._state_changed = asyncio.Event()
        self._error: ClientError | None = None
        self._terminal: ClientError | None = None
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None
        self._refresh_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None
        self._token: Token | None = None

    @property
    def state(self) -> ConnectionState:
        """The connection state now."""
        return self._state

    @property
    def error(self) -> ClientError | None:
        """The terminal error that closed the client, if any."""
        return self._error

    async def connect(self, timeout: float | None) -> None:
        """Start the connection loop if need be, and wait for `connected` (see
        `Client.connect`)."""
        if self._run_task is None:
            if self._state is ConnectionState.CLOSED:
                raise ClientClosed("the client is closed")
            self._set_state(ConnectionState.CONNECTING)
            self._run_task = asyncio.create_task(self._run(), name="sock8.Client")
        try:
            state = await self.wait_for_state(
                ConnectionState.CONNECTED, ConnectionState.CLOSED, timeout=timeout
            )
        except TimeoutError:
            await self.close()
            raise
        if state is ConnectionState.CLOSED:
            raise self._error or ClientClosed("the client is closed")

    async def close(self) -> None:
        """Close the connection and stop for good; idempotent (see `Client.close`)."""
        self._closing = True
        self.route.closed = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        self._refresher.cancel()
        task = self._run_task
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            # Collects the task's outcome, so that nothing is reported as never retrieved.
            await asyncio.gather(task, return_exceptions=True)
        self._finish(None)
        await self.route.aclose()

    async def wait_for_state(
        self, *states: ConnectionState, timeout: float | None = None
    ) -> ConnectionState:
        """Wait until the state is one of `states`; return it (see `Client.wait_for_state`)."""
        async with asyncio.timeout(timeout):
            while self._state not in states:
                await self._state_changed.wait()
        return self._state

    async def request(
        self, kind: str, channel: str | None, frame: dict[str, Any]
    ) -> dict[str, Any]:
        """Send a request on the live connection and return the frame that answers it.

        Raises:
            RequestRefused: the gateway answered with an error frame.
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        from websockets.exceptions import ConnectionClosed

        ws = await self._live()
        pending = self._dispatcher.expect(kind, channel)
        try:
            await ws.send(json.dumps(frame))
            return await asyncio.wait_for(pending.future, self._request_timeout)
        except ConnectionClosed:
            raise ConnectionLost("the connection to the gateway was lost") from None
        finally:
            self._dispatcher.forget(pending)

    async def refresh(self) -> None:
        """Swap in a new token on the live connection now (see `Client.refresh`)."""
        ws = await self._live()
        try:
            await self._refresh_now()
        except Unauthorized as exc:
            await self.stop(exc)
            raise
        if self._ws is ws:
            # Reschedule: the timer was set for the old token.
            self._refresher.restart()

    async def stop(self, error: ClientError) -> None:
        """Stop for good from inside a connection: record `error` and close the socket; the
        connection loop then finishes the client."""
        self._terminal = error
        ws = self._ws
        if ws is not None:
            await ws.close()

    # Inside

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        self._state = state
        logger.debug("state: %s", state)
        changed, self._state_changed = self._state_changed, asyncio.Event()
        changed.set()
        _notify(self._on_state, state)

    def _presence_changed(self, update: PresenceUpdate) -> None:
        _notify(self._on_presence, update)

    def _channel_reset(self, reset: ChannelReset) -> None:
        _notify(self._on_reset, reset)

    async def _run(self) -> None:
        try:
            await self._connection_loop()
        except Exception:
            # A bug, not a network condition: stop visibly rather than spin.
            logger.exception("the sock8 client's connection loop failed")
            self._finish(ClientError("the connection loop failed; see the sock8.client log"))
        if not self._closing:
            # Stopped for good by itself; close() does this otherwise.
            await self.route.aclose()

    async def _connection_loop(self) -> None:
        attempt = 0
        retried_refusal = False
        ever_connected = False
        while not self._closing:
            outcome = await self._attempt()
            if self._closing:
                return
            ever_connected = ever_connected or outcome.welcomed
            if outcome.welcomed:
                retried_refusal = False
            terminal = self._terminal or outcome.error
            if terminal is None and outcome.code == CLOSE_UNAUTHORIZED:
                detail = self._dispatcher.last_error_text() or outcome.reason or "token refused"
                if retried_refusal:
                    terminal = Unauthorized(f"the gateway refused a fresh token: {detail}")
                else:
                    # Expired or refused: fetch a new token once, right away.
                    logger.info("the gateway closed with 4001 (%s); fetching a new token", detail)
                    retried_refusal = True
                    self._token = None
                    self._set_state(
                        ConnectionState.RECONNECTING
                        if ever_connected
                        else ConnectionState.CONNECTING
                    )
                    continue
            if terminal is None and outcome.code in _TERMINAL_CLOSES:
                detail = self._dispatcher.last_error_text() or outcome.reason
                terminal = ProtocolError(
                    f"the gateway closed with {outcome.code} "
                    f"({_TERMINAL_CLOSES[outcome.code]}): {detail}",
                    code=outcome.code,
                )
            if terminal is not None:
                logger.warning("sock8 client stopped: %s", terminal)
                self._finish(terminal)
                return
            if outcome.welcomed and outcome.uptime >= self._backoff.reset_after:
                attempt = 0
            delay = self._backoff.delay(attempt)
            attempt += 1
            self._set_state(
                ConnectionState.RECONNECTING if ever_connected else ConnectionState.CONNECTING
            )
            logger.warning(
                "connection lost (%s); reconnecting in %.2f s",
                outcome.reason or outcome.code,
                delay,
            )
            await self._sleep(delay)

    async def _attempt(self) -> _Outcome:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
        from websockets.typing import Origin

        self._dispatcher.last_error = None
        try:
            token = await self._current_token()
        except AuthError as exc:
            if exc.retryable:
                return _Outcome(reason=str(exc))
            return _Outcome(error=exc)
        except Unauthorized as exc:
            return _Outcome(error=exc)
        try:
            ws = await connect(
                token.endpoint,
                origin=None if self._origin is None else Origin(self._origin),
                # Deflate costs ~50 KiB per connection on both sides for small JSON frames.
                compression=None,
                open_timeout=self._open_timeout,
                # Above the gateway's default publish limit (1 MiB) plus the frame around it.
                max_size=MAX_FRAME_BYTES,
                user_agent_header="sock8-python-client",
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500 and status not in (408, 429):
                return _Outcome(
                    error=ProtocolError(f"the gateway refused the WebSocket upgrade: HTTP {status}")
                )
            return _Outcome(reason=f"upgrade refused: HTTP {status}")
        except InvalidURI as exc:
            return _Outcome(error=AuthError(f"the auth route returned a bad endpoint: {exc}"))
        except (OSError, TimeoutError) as exc:
            return _Outcome(reason=f"cannot reach the gateway: {exc!r}")
        except Exception as exc:  # websockets' other handshake errors
            return _Outcome(reason=f"handshake failed: {exc!r}")

        self._ws = ws
        outcome = _Outcome()
        connected_at = 0.0
        unanswered: asyncio.TimerHandle | None = None
        try:
            await ws.send(json.dumps({"event": "auth", "token": token.token}))
            first = decode(await asyncio.wait_for(ws.recv(), self._open_timeout))
            if first is not None and first.get("event") == "welcome":
                outcome.welcomed = True
                connected_at = self._clock()
                self.grants.accept(first, token)
                logger.info(
                    "connected as %s with %d channels",
                    self.grants.identity,
                    len(self.grants.channels),
                )
                # Restored before the state says connected: requests made by the caller then
                # follow the restoring frames on the socket. Their answers need no waiting: an
                # error comes back as a frame the dispatcher logs.
                for restoring in self.grants.restoring_frames():
                    await ws.send(json.dumps(restoring))
                if self.grants.recovering:
                    # A resume never answered must not hold its channel's messages back.
                    unanswered = asyncio.get_running_loop().call_later(
                        self._request_timeout, self._dispatcher.give_up_resuming
                    )
                self._set_state(ConnectionState.CONNECTED)
                _notify(self._on_channels, self.grants.channels)
                self._refresher.restart()
                async for raw in ws:
                    frame = decode(raw)
                    if frame is not None:
                        await self._dispatcher.dispatch(frame)
            else:
                if first is not None:
                    await self._dispatcher.dispatch(first)
                # Refused: the gateway closes right after its error frame.
                await asyncio.wait_for(ws.wait_closed(), self._open_timeout)
        except ConnectionClosed:
            pass
        except TimeoutError:
            outcome.reason = "no welcome from the gateway"
        finally:
            if unanswered is not None:
                unanswered.cancel()
            await self._refresher.stop()
            self._ws = None
            self._dispatcher.fail_all(ConnectionLost("the connection to the gateway was lost"))
            await ws.close()
        if outcome.welcomed:
            outcome.uptime = self._clock() - connected_at
        if not outcome.reason:
            outcome.code = ws.close_code
            outcome.reason = f"close code {ws.close_code} {ws.close_reason or ''}".strip()
        return outcome

    def _finish(self, error: ClientError | None) -> None:
        if self._state is ConnectionState.CLOSED:
            return
        if error is not None and self._error is None:
            self._error = error
        self.route.closed = True
        self._dispatcher.fail_all(error or ClientClosed("the client is closed"))
        self.inbox.end()
        self._set_state(ConnectionState.CLOSED)

    async def _live(self) -> ClientConnection:
        if self._run_task is None:
            raise ClientClosed("not connected: call connect() or use `async with`")
        state = await self.wait_for_state(
            ConnectionState.CONNECTED, ConnectionState.CLOSED, timeout=self._request_timeout
        )
        if state is ConnectionState.CLOSED or self._ws is None:
            raise self._error or ClientClosed("the client is closed")
        return self._ws

    # Tokens

    async def _current_token(self) -> Token:
        token = self._token
        if token is None or self._clock() >= token.refresh_at:
            token = self._token = await self.route.token()
        return token

    def _refresh_due(self) -> float | None:
        return None if self._token is None else self._token.refresh_at

    async def _refresh_now(self) -> None:
        # One at a time: a token fetched first but sent second would be older than the current
        # one, and the gateway closes the connection on an older token.
        async with self._refresh_lock:
            token = await self.route.token()
            reply = await self.request("refresh", None, {"event": "refresh", "token": token.token})
            self._token = token
            self.grants.accept(reply, token)
            logger.info("token refreshed: %d channels", len(self.grants.channels))
        _notify(self._on_channels, self.grants.channels)
