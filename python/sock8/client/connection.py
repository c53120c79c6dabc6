"""`Client`: the connection loop, requests, token refresh and reconnects (see `sock8.client`)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, urlsplit

from sock8._backoff import Backoff
from sock8._close_codes import (
    CLOSE_BAD_FRAME,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
)
from sock8.client.errors import (
    AuthError,
    ClientClosed,
    ClientError,
    ConnectionLost,
    Forbidden,
    ProtocolError,
    RequestRefused,
    Unauthorized,
)
from sock8.client.values import (
    Channel,
    ChannelsCallback,
    ClientMessage,
    ConnectionState,
    History,
    HistoryItem,
    PresenceCallback,
    PresenceEntry,
    PresenceUpdate,
    StateCallback,
)

if TYPE_CHECKING:
    from http.cookiejar import CookieJar
    from types import TracebackType

    import httpx
    from websockets.asyncio.client import ClientConnection

__all__ = ["Client"]

logger = logging.getLogger("sock8.client")

MAX_FRAME_BYTES = 4 * 1024 * 1024
"""The largest frame the client accepts from the gateway."""
_TERMINAL_CLOSES = {CLOSE_FORBIDDEN: "refused by policy", CLOSE_BAD_FRAME: "bad frame"}
"""Close codes that another attempt would only repeat: the client stops."""


@dataclass(frozen=True, slots=True)
class _Token:
    token: str
    endpoint: str
    identity: str
    channels: tuple[str, ...]
    expires_at: int
    refresh_at: float
    """On the client's clock: when to fetch the next token."""


@dataclass(eq=False, slots=True)
class _Pending:
    kind: str
    channel: str | None
    future: asyncio.Future[dict[str, Any]]


@dataclass(slots=True)
class _Outcome:
    """How one connection attempt ended."""

    code: int | None = None
    reason: str = ""
    welcomed: bool = False
    uptime: float = 0.0
    error: ClientError | None = None


_END = object()


class _Inbox:
    """Delivered messages waiting for the consumer.

    Bounded: when the consumer falls behind, the socket reader waits, the socket's buffers fill,
    and the gateway eventually closes the connection as a slow consumer (4008) instead of this
    process growing without bound.
    """

    def __init__(self, limit: int) -> None:
        self._items: deque[ClientMessage] = deque()
        self._limit = limit
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.ended = False

    async def put(self, message: ClientMessage) -> None:
        while len(self._items) >= self._limit and not self.ended:
            self._writable.clear()
            await self._writable.wait()
        if not self.ended:
            self._items.append(message)
            self._readable.set()

    async def get(self) -> ClientMessage | object:
        while not self._items:
            if self.ended:
                return _END
            self._readable.clear()
            await self._readable.wait()
        message = self._items.popleft()
        if len(self._items) < self._limit:
            self._writable.set()
        return message

    def end(self) -> None:
        self.ended = True
        self._readable.set()
        self._writable.set()


def _channel_id(channel: Channel) -> str:
    if isinstance(channel, str):
        return channel
    identifier = getattr(channel, "id", None)
    if not isinstance(identifier, str):
        raise TypeError(f"channel must be a wire id or a channel ref, not {channel!r}")
    return identifier


def _token_lifetime(token: str) -> float | None:
    """`exp - iat` from the token's claims, to schedule refreshes on the client's own clock
    whatever the skew between it and the server's. The token is not verified here: the gateway
    does that; a token this cannot read just falls back to `expiresAt`."""
    try:
        segment = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        lifetime = claims["exp"] - claims["iat"]
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error):
        return None
    if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
        return float(lifetime)
    return None


def _presence_entry(value: object) -> PresenceEntry:
    entry = value if isinstance(value, dict) else {}
    data = entry.get("data")
    last_seen = entry.get("lastSeen")
    return PresenceEntry(
        is_connected=bool(entry.get("isConnected", False)),
        last_seen=last_seen if isinstance(last_seen, int) else 0,
        data=data if isinstance(data, dict) else {},
    )


def _presence_state(value: object) -> dict[str, PresenceEntry]:
    if not isinstance(value, dict):
        return {}
    return {str(identity): _presence_entry(entry) for identity, entry in value.items()}


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        logger.warning("skipped a binary frame from the gateway")
        return None
    try:
        frame = json.loads(raw)
    except ValueError:
        logger.warning("skipped a frame that is not JSON")
        return None
    if not isinstance(frame, dict):
        logger.warning("skipped a frame that is not a JSON object")
        return None
    return frame


def _require_extras() -> None:
    try:
        import httpx  # noqa: F401
        import websockets  # noqa: F401
    except ModuleNotFoundError as exc:
        raise ImportError(f"sock8.Client needs {exc.name}: pip install 'sock8[client]'") from None


class Client:
    """An asyncio client of the sock8 gateway: authenticate, connect, receive, reconnect.

    Arguments:
        auth_url: where the app mounted `with_sock8`, e.g. `https://app.example/api/channels`.
            The client POSTs to `{auth_url}/authenticate` for tokens and GETs
            `{auth_url}/{quoted id}/history` for history.
        headers: sent with every request to the auth route (an `Authorization` header, an
            `X-CSRFToken`).
        cookies: sent to the auth route (a session cookie); cookies the route sets are kept.
        http: an `httpx.AsyncClient` to use instead of the client's own (proxies, TLS settings,
            an ASGI transport). The caller closes it; give it its cookies yourself.
        origin: the `Origin` header of the WebSocket upgrade, for gateways that check it.
        backoff: the reconnect delays (injectable random source for tests).
        refresh_before: refresh the token this many seconds before it expires (at most half
            its lifetime before).
        request_timeout: how long subscribe, presence and refresh requests wait for the answer,
            and requests made while reconnecting wait for the connection.
        open_timeout: how long opening the WebSocket and waiting for `welcome` may take.
        max_queue: delivered messages buffered for the consumer before the client stops reading
            the socket (the gateway then closes a consumer this slow with 4008). Replies are
            read from the same socket: a client whose messages nobody consumes stops getting
            answers once this many are waiting.
        on_state: called with each new `ConnectionState`.
        on_presence: called with each `PresenceUpdate` of the channels this client receives.
        on_channels: called with the granted channels after each `welcome` and each refresh
            (an app's UI can drop a room the user lost).
        clock: epoch seconds; schedules token refreshes and measures connection uptime.
        sleep: waits between reconnect attempts and until the next refresh. Tests inject a
            virtual clock and sleep to drive time without waiting for it.

    Use it as an async context manager (`async with sock8.Client(...) as client:`), or call
    `connect()` and `close()`. Iterate over it (or over `client.messages()`) to receive
    `ClientMessage`s; iteration ends after `close()` and raises the terminal error after a
    terminal failure.
    """

    def __init__(
        self,
        auth_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cookies: httpx.Cookies | CookieJar | Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        origin: str | None = None,
        backoff: Backoff | None = None,
        refresh_before: float = 30.0,
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        max_queue: int = 1024,
        on_state: StateCallback | None = None,
        on_presence: PresenceCallback | None = None,
        on_channels: ChannelsCallback | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        _require_extras()
        parts = urlsplit(auth_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"auth_url must be an http:// or https:// URL, not {auth_url!r}")
        if http is not None and cookies is not None:
            raise ValueError("with http=, set the cookies on that httpx client")
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, not {max_queue}")
        self._auth_url = auth_url.rstrip("/")
        self._headers = dict(headers or {})
        self._cookies = cookies
        self._http = http
        self._owns_http = http is None
        self._origin = origin
        self._backoff = backoff or Backoff()
        self._refresh_before = refresh_before
        self._request_timeout = request_timeout
        self._open_timeout = open_timeout
        self._on_state = on_state
        self._on_presence = on_presence
        self._on_channels = on_channels
        self._clock = clock
        self._sleep = sleep

        self._state = ConnectionState.DISCONNECTED
        self._state_changed = asyncio.Event()
        self._error: ClientError | None = None
        self._terminal: ClientError | None = None
        self._closing = False
        self._inbox = _Inbox(max_queue)
        self._pending: deque[_Pending] = deque()
        self._run_task: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._refresh_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None
        self._token: _Token | None = None
        self._identity: str | None = None
        self._channels: tuple[str, ...] = ()
        self._expires_at: int | None = None
        self._last_error: dict[str, Any] | None = None
        # What the caller asked for, restored after every reconnect.
        self._unsubscribed: set[str] = set()
        self._presence: dict[str, dict[str, Any]] = {}

    # Lifecycle

    async def connect(self, *, timeout: float | None = 30.0) -> None:
        """Authenticate, connect, and wait for the gateway's `welcome`.

        Failures that may pass (network errors, a gateway restarting) are retried with backoff
        until `timeout` seconds have passed (`None`: no limit).

        Raises:
            Unauthorized: the auth route answered 401 or 403, or the gateway refused the token.
            AuthError: the auth route answered something unusable (404, a malformed body).
            ProtocolError: the gateway refused the upgrade or closed with a terminal code.
            TimeoutError: not connected within `timeout`; the client is closed.
            ClientClosed: the client was already closed.
        """
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
        """Close the connection (code 1000) and stop for good; idempotent.

        Iteration ends once the messages already received are consumed; requests waiting for an
        answer raise `ClientClosed`.
        """
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in (self._refresher, self._run_task):
            if task is not None and not task.done():
                task.cancel()
        task = self._run_task
        if task is not None:
            # Collects the task's outcome, so that nothing is reported as never retrieved.
            await asyncio.gather(task, return_exceptions=True)
        self._finish(None)
        await self._close_http()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # Observation

    @property
    def state(self) -> ConnectionState:
        """The connection state now."""
        return self._state

    @property
    def error(self) -> ClientError | None:
        """The terminal error that closed the client, if any."""
        return self._error

    @property
    def identity(self) -> str | None:
        """The identity the gateway welcomed, once connected."""
        return self._identity

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the current token grants, as the gateway acknowledged them."""
        return self._channels

    @property
    def expires_at(self) -> int | None:
        """When the current token expires, epoch seconds (the gateway's clock)."""
        return self._expires_at

    async def wait_for_state(
        self, *states: ConnectionState, timeout: float | None = None
    ) -> ConnectionState:
        """Wait until the state is one of `states`; return it.

        Raises:
            TimeoutError: `timeout` seconds passed first.
        """
        async with asyncio.timeout(timeout):
            while self._state not in states:
                await self._state_changed.wait()
        return self._state

    # Messages

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ClientMessage:
        while True:
            item = await self._inbox.get()
            if isinstance(item, ClientMessage):
                # Messages still in flight when the caller unsubscribed are not handed out.
                if item.channel in self._unsubscribed:
                    continue
                return item
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration

    def messages(self) -> Self:
        """The delivered messages, as an async iterator (the same as iterating the client).

        Raises (from iteration):
            Unauthorized, AuthError, ProtocolError: the client stopped for good.
        """
        return self

    # Requests

    async def subscribe(self, channel: Channel) -> None:
        """Start (again) the delivery of a granted channel. Every granted channel is delivered
        after connecting; this undoes an `unsubscribe`.

        Raises:
            Forbidden: the channel is not granted; the connection stays open.
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        await self._request("subscribe", channel_id, {"event": "subscribe", "channel": channel_id})
        self._unsubscribed.discard(channel_id)

    async def unsubscribe(self, channel: Channel) -> None:
        """Stop the delivery of a channel; kept across reconnects until `subscribe`. The
        gateway also drops this identity's presence there (from this connection).

        Raises:
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        # Set first: no message of the channel is handed out once this was called.
        self._unsubscribed.add(channel_id)
        self._presence.pop(channel_id, None)
        frame = {"event": "unsubscribe", "channel": channel_id}
        await self._request("unsubscribe", channel_id, frame)

    async def set_presence(self, channel: Channel, data: Mapping[str, Any]) -> None:
        """Merge `data` into this identity's presence on `channel`, and wait until the gateway
        broadcast the change (to the channel's subscribers: this client must not have
        unsubscribed from it). Presence is set again after a reconnect.

        Raises:
            Forbidden: the channel is not granted, or keeps no presence.
            RequestRefused: `invalid_presence`, the data does not match the channel's schema.
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        update = dict(data)
        frame = {"event": "setPresence", "channel": channel_id, "data": update}
        await self._request("setPresence", channel_id, frame)
        self._presence.setdefault(channel_id, {}).update(update)

    async def get_presence(self, channel: Channel) -> dict[str, PresenceEntry]:
        """The presence of `channel`: an entry per identity.

        Raises:
            Forbidden: the channel is not granted.
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        frame = {"event": "getPresence", "channel": channel_id}
        reply = await self._request("getPresence", channel_id, frame)
        return _presence_state(reply.get("state"))

    async def history(
        self, channel: Channel, *, limit: int | None = None, cursor: str | None = None
    ) -> History:
        """A page of the channel's history through the app's route
        (`GET {auth_url}/{quoted id}/history`), with this client's headers and cookies. It
        does not need the WebSocket.

        Raises:
            Forbidden: the app does not grant this channel to this client (401).
            RequestRefused: `bad_request`, a bad channel id, limit or cursor (400).
            AuthError: the route is unreachable or answered something else.
            ClientClosed: the client is closed.
        """
        channel_id = _channel_id(channel)
        params: dict[str, str] = {}
        if limit is not None:
            params["limit"] = str(limit)
        if cursor is not None:
            params["cursor"] = cursor
        url = f"{self._auth_url}/{quote(channel_id, safe='')}/history"
        response = await self._http_call("GET", url, params=params)
        if response.status_code in (401, 403):
            raise Forbidden(channel_id, f"the app refused the history of {channel_id!r}")
        if response.status_code == 400:
            raise RequestRefused("bad_request", response.text[:200], channel=channel_id)
        if response.status_code != 200:
            raise AuthError(
                f"history of {channel_id!r}: HTTP {response.status_code}",
                status=response.status_code,
                retryable=response.status_code >= 500,
            )
        try:
            body = response.json()
            items = tuple(
                HistoryItem(int(item["timestamp"]), item["payload"]) for item in body["messages"]
            )
            next_cursor = body.get("nextCursor")
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError(f"history of {channel_id!r}: malformed answer ({exc})") from None
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise AuthError(f"history of {channel_id!r}: malformed nextCursor")
        return History(channel_id, items, next_cursor)

    async def refresh(self) -> None:
        """Fetch a new token from the auth route now and swap it in on the live connection.

        Deliveries of channels the new token no longer grants stop at once; newly granted ones
        start. The client also does this by itself before the token expires.

        Raises:
            Unauthorized: the auth route refused (terminal: the client closes).
            AuthError: the auth route failed.
            RequestRefused: the gateway refused the new token (it then closes with 4001, and
                the client reconnects with a fresh token).
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        ws = await self._live()
        try:
            await self._refresh_now()
        except Unauthorized as exc:
            await self._stop(exc)
            raise
        if self._ws is ws:
            # Reschedule: the timer was set for the old token.
            self._restart_refresher()

    # The connection loop

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        self._state = state
        logger.debug("state: %s", state)
        changed, self._state_changed = self._state_changed, asyncio.Event()
        changed.set()
        self._notify(self._on_state, state)

    @staticmethod
    def _notify(callback: Callable[[Any], object] | None, value: object) -> None:
        if callback is not None:
            try:
                callback(value)
            except Exception:
                # The caller's bug must not break the connection.
                logger.exception("a sock8.Client callback raised")

    async def _run(self) -> None:
        try:
            await self._connection_loop()
        except Exception:
            # A bug, not a network condition: stop visibly rather than spin.
            logger.exception("the sock8 client's connection loop failed")
            self._finish(ClientError("the connection loop failed; see the sock8.client log"))
        if not self._closing:
            # Stopped for good by itself; close() does this otherwise.
            await self._close_http()

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
                detail = self._last_error_text() or outcome.reason or "token refused"
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
                detail = self._last_error_text() or outcome.reason
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

        self._last_error = None
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
        try:
            await ws.send(json.dumps({"event": "auth", "token": token.token}))
            first = _decode(await asyncio.wait_for(ws.recv(), self._open_timeout))
            if first is not None and first.get("event") == "welcome":
                outcome.welcomed = True
                connected_at = self._clock()
                self._welcome(first, token)
                # Restored before the state says connected: requests made by the caller then
                # follow the restoring frames on the socket.
                await self._restore(ws)
                self._set_state(ConnectionState.CONNECTED)
                self._notify(self._on_channels, self._channels)
                self._restart_refresher()
                async for raw in ws:
                    frame = _decode(raw)
                    if frame is not None:
                        await self._dispatch(frame)
            else:
                if first is not None:
                    await self._dispatch(first)
                # Refused: the gateway closes right after its error frame.
                await asyncio.wait_for(ws.wait_closed(), self._open_timeout)
        except ConnectionClosed:
            pass
        except TimeoutError:
            outcome.reason = "no welcome from the gateway"
        finally:
            refresher, self._refresher = self._refresher, None
            if refresher is not None:
                refresher.cancel()
                await asyncio.gather(refresher, return_exceptions=True)
            self._ws = None
            self._fail_pending(ConnectionLost("the connection to the gateway was lost"))
            await ws.close()
        if outcome.welcomed:
            outcome.uptime = self._clock() - connected_at
        if not outcome.reason:
            outcome.code = ws.close_code
            outcome.reason = f"close code {ws.close_code} {ws.close_reason or ''}".strip()
        return outcome

    def _welcome(self, frame: dict[str, Any], token: _Token) -> None:
        identity = frame.get("identity")
        channels = frame.get("channels")
        expires_at = frame.get("expiresAt")
        self._identity = identity if isinstance(identity, str) else token.identity
        self._channels = (
            tuple(str(channel) for channel in channels)
            if isinstance(channels, list)
            else token.channels
        )
        self._expires_at = expires_at if isinstance(expires_at, int) else token.expires_at
        logger.info("connected as %s with %d channels", self._identity, len(self._channels))

    async def _restore(self, ws: ClientConnection) -> None:
        """Re-apply what the caller set on earlier connections: unsubscribes, presence. The
        answers need no waiting: an error comes back as a frame the dispatcher logs."""
        granted = set(self._channels)
        self._unsubscribed &= granted
        for channel in sorted(self._unsubscribed):
            await ws.send(json.dumps({"event": "unsubscribe", "channel": channel}))
        for channel, data in list(self._presence.items()):
            if channel in granted:
                frame = {"event": "setPresence", "channel": channel, "data": data}
                await ws.send(json.dumps(frame))
            else:
                del self._presence[channel]

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        event = frame.get("event")
        channel = frame.get("channel")
        if event is None:
            if isinstance(channel, str) and "payload" in frame:
                await self._inbox.put(ClientMessage(channel, frame["payload"]))
            else:
                logger.warning("skipped a frame without event, channel or payload")
        elif event == "subscribed":
            self._settle("subscribe", channel, frame)
        elif event == "unsubscribed":
            self._settle("unsubscribe", channel, frame)
        elif event == "presenceState":
            self._settle("getPresence", channel, frame)
        elif event == "presenceUpdate":
            self._presence_update(frame)
        elif event == "refreshed":
            self._settle("refresh", None, frame)
        elif event == "error":
            self._refused(frame)
        else:
            # Servers may add events: a client skips the ones it does not know.
            logger.debug("skipped a frame with unknown event %r", event)

    def _settle(self, kind: str, channel: object, frame: dict[str, Any]) -> bool:
        for pending in self._pending:
            if pending.kind == kind and pending.channel == channel and not pending.future.done():
                pending.future.set_result(frame)
                self._pending.remove(pending)
                return True
        return False

    def _presence_update(self, frame: dict[str, Any]) -> None:
        channel = frame.get("channel")
        if not isinstance(channel, str):
            return
        updates = _presence_state(frame.get("updates"))
        removals = frame.get("removals")
        update = PresenceUpdate(
            channel,
            updates,
            tuple(str(item) for item in removals) if isinstance(removals, list) else (),
        )
        if self._identity in updates:
            # setPresence has no reply of its own: the broadcast of the change is its answer.
            self._settle("setPresence", channel, frame)
        self._notify(self._on_presence, update)

    def _refused(self, frame: dict[str, Any]) -> None:
        code = str(frame.get("code", "error"))
        message = str(frame.get("message", ""))
        channel = frame.get("channel")
        if isinstance(channel, str):
            error: RequestRefused = (
                Forbidden(channel, message)
                if code == "forbidden"
                else RequestRefused(code, message, channel=channel)
            )
            for pending in self._pending:
                if pending.channel == channel and not pending.future.done():
                    pending.future.set_exception(error)
                    self._pending.remove(pending)
                    return
            logger.warning("the gateway refused a request on %s: %s", channel, error)
            return
        if code == "unauthorized":
            for pending in self._pending:
                if pending.kind == "refresh" and not pending.future.done():
                    pending.future.set_exception(RequestRefused(code, message))
                    self._pending.remove(pending)
                    return
        # Connection-level errors precede a close; kept to explain it.
        self._last_error = frame
        logger.warning("gateway error %s: %s", code, message)

    def _last_error_text(self) -> str:
        if self._last_error is None:
            return ""
        return f"{self._last_error.get('code')}: {self._last_error.get('message', '')}".rstrip()

    def _fail_pending(self, error: ClientError) -> None:
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.set_exception(error)
                # Nobody may be waiting any more (a timed-out request): mark it seen.
                pending.future.exception()

    def _finish(self, error: ClientError | None) -> None:
        if self._state is ConnectionState.CLOSED:
            return
        if error is not None and self._error is None:
            self._error = error
        self._fail_pending(error or ClientClosed("the client is closed"))
        self._inbox.end()
        self._set_state(ConnectionState.CLOSED)

    async def _stop(self, error: ClientError) -> None:
        """Stop for good from inside a connection: record `error` and close the socket; the
        connection loop then finishes the client."""
        self._terminal = error
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def _close_http(self) -> None:
        http, self._http = self._http, None
        if http is not None and self._owns_http:
            await http.aclose()

    # Requests on the socket

    async def _live(self) -> ClientConnection:
        if self._run_task is None:
            raise ClientClosed("not connected: call connect() or use `async with`")
        state = await self.wait_for_state(
            ConnectionState.CONNECTED, ConnectionState.CLOSED, timeout=self._request_timeout
        )
        if state is ConnectionState.CLOSED or self._ws is None:
            raise self._error or ClientClosed("the client is closed")
        return self._ws

    async def _request(
        self, kind: str, channel: str | None, frame: dict[str, Any]
    ) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed

        ws = await self._live()
        pending = _Pending(kind, channel, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        try:
            await ws.send(json.dumps(frame))
            return await asyncio.wait_for(pending.future, self._request_timeout)
        except ConnectionClosed:
            raise ConnectionLost("the connection to the gateway was lost") from None
        finally:
            if pending in self._pending:
                self._pending.remove(pending)

    # Tokens

    async def _current_token(self) -> _Token:
        token = self._token
        if token is None or self._clock() >= token.refresh_at:
            token = self._token = await self._authenticate()
        return token

    async def _authenticate(self) -> _Token:
        url = f"{self._auth_url}/authenticate"
        response = await self._http_call("POST", url)
        status = response.status_code
        if status in (401, 403):
            raise Unauthorized(f"the auth route refused this client: HTTP {status}")
        if status != 200:
            retryable = status in (408, 429) or status >= 500
            raise AuthError(
                f"the auth route answered HTTP {status}", status=status, retryable=retryable
            )
        try:
            body = response.json()
            token = body["token"]
            endpoint = body["endpoint"]
            identity = body["identity"]
            channels = tuple(body["channels"])
            expires_at = body["expiresAt"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError(
                f"the auth route answered a malformed body ({exc})", status=200
            ) from None
        if not (
            isinstance(token, str)
            and isinstance(endpoint, str)
            and isinstance(identity, str)
            and all(isinstance(channel, str) for channel in channels)
            and isinstance(expires_at, int)
        ):
            raise AuthError("the auth route answered a malformed body", status=200)
        now = self._clock()
        lifetime = _token_lifetime(token) or max(0.0, expires_at - now)
        margin = min(self._refresh_before, lifetime / 2)
        return _Token(token, endpoint, identity, channels, expires_at, now + lifetime - margin)

    async def _http_call(
        self, method: str, url: str, *, params: Mapping[str, str] | None = None
    ) -> httpx.Response:
        from http.cookiejar import CookieJar

        import httpx

        if self._closing or self._state is ConnectionState.CLOSED:
            raise ClientClosed("the client is closed")
        if self._http is None:
            if not self._owns_http:
                raise ClientClosed("the client is closed")
            cookies = self._cookies
            if cookies is not None and not isinstance(cookies, httpx.Cookies | CookieJar):
                cookies = dict(cookies)
            self._http = httpx.AsyncClient(
                cookies=cookies, timeout=self._request_timeout, follow_redirects=False
            )
        try:
            return await self._http.request(method, url, headers=self._headers, params=params)
        except httpx.HTTPError as exc:
            raise AuthError(f"{method} {url} failed: {exc!r}", retryable=True) from None

    async def _refresh_now(self) -> None:
        async with self._refresh_lock:
            token = await self._authenticate()
            reply = await self._request("refresh", None, {"event": "refresh", "token": token.token})
            self._token = token
            channels = reply.get("channels")
            expires_at = reply.get("expiresAt")
            self._channels = (
                tuple(str(channel) for channel in channels)
                if isinstance(channels, list)
                else token.channels
            )
            self._expires_at = expires_at if isinstance(expires_at, int) else token.expires_at
            granted = set(self._channels)
            self._unsubscribed &= granted
            for channel in [channel for channel in self._presence if channel not in granted]:
                del self._presence[channel]
            logger.info("token refreshed: %d channels", len(self._channels))
        self._notify(self._on_channels, self._channels)

    def _restart_refresher(self) -> None:
        current = asyncio.current_task()
        old = self._refresher
        if old is not None and old is not current:
            old.cancel()
        self._refresher = asyncio.create_task(self._refresh_loop(), name="sock8.Client.refresh")

    async def _refresh_loop(self) -> None:
        failures = 0
        while True:
            token = self._token
            if token is None:
                return
            if failures:
                delay = self._backoff.delay(failures - 1)
            else:
                delay = max(0.0, token.refresh_at - self._clock())
            await self._sleep(delay)
            try:
                await self._refresh_now()
            except Unauthorized as exc:
                logger.error("token refresh refused by the app: %s", exc)
                await self._stop(exc)
                return
            except AuthError as exc:
                if not exc.retryable:
                    logger.error("token refresh failed: %s", exc)
                    await self._stop(exc)
                    return
                failures += 1
                logger.warning("token refresh failed (%s); retrying", exc)
            except (RequestRefused, ConnectionLost, ClientClosed):
                # The gateway closes the connection; the connection loop takes it from there.
                return
            except TimeoutError:
                failures += 1
                logger.warning("the gateway did not acknowledge a refresh; retrying")
            else:
                failures = 0

    def __repr__(self) -> str:
        return f"<sock8.Client {self._auth_url} {self._state} identity={self._identity!r}>"
