"""`Client`: the public face of the sock8 client (see `sock8.client`).

It checks its arguments, documents the API, and delegates: to `Lifecycle` for the connection and
the requests on it, to `AuthRoute` for history.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from sock8._backoff import Backoff
from sock8.client.dispatch import presence_state
from sock8.client.errors import ClientError
from sock8.client.lifecycle import Lifecycle
from sock8.client.route import AuthRoute
from sock8.client.values import (
    Channel,
    ChannelsCallback,
    ClientMessage,
    ConnectionState,
    History,
    PresenceCallback,
    PresenceEntry,
    ResetCallback,
    StateCallback,
)
from sock8.errors import ConfigError

if TYPE_CHECKING:
    from http.cookiejar import CookieJar
    from types import TracebackType

    import httpx

__all__ = ["Client"]


def _channel_id(channel: Channel) -> str:
    if isinstance(channel, str):
        return channel
    identifier = getattr(channel, "id", None)
    if not isinstance(identifier, str):
        raise TypeError(f"channel must be a wire id or a channel ref, not {channel!r}")
    return identifier


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
        allow_insecure_endpoint: follow a `ws://` endpoint from an `https://` auth route. By
            default that downgrade is refused (`AuthError`, terminal): the token would cross
            the network in clear text. For development set-ups only.
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
        on_reset: called with a `ChannelReset` when, after a reconnect, the gateway could not
            give back every message missed on a channel with history (the gap is older than
            the history keeps, or the stream started again). Otherwise the missed messages
            are delivered, in order, before the live ones: the client resumes every channel
            with history from the last message it received.
        clock: epoch seconds; schedules token refreshes and measures connection uptime.
        sleep: waits between reconnect attempts and until the next refresh. Tests inject a
            virtual clock and sleep to drive time without waiting for it.

    Use it as an async context manager (`async with sock8.Client(...) as client:`), or call
    `connect()` and `close()`. Iterate over it (or over `client.messages()`) to receive
    `ClientMessage`s; iteration ends after `close()` and raises the terminal error after a
    terminal failure.

    Raises:
        ConfigError: `auth_url` is not an `http://` or `https://` URL, `cookies` was given
            together with `http`, or `max_queue` is below 1.
    """

    def __init__(
        self,
        auth_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cookies: httpx.Cookies | CookieJar | Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        origin: str | None = None,
        allow_insecure_endpoint: bool = False,
        backoff: Backoff | None = None,
        refresh_before: float = 30.0,
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        max_queue: int = 1024,
        on_state: StateCallback | None = None,
        on_presence: PresenceCallback | None = None,
        on_channels: ChannelsCallback | None = None,
        on_reset: ResetCallback | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        _require_extras()
        try:
            parts = urlsplit(auth_url)
            scheme, host = parts.scheme, parts.hostname
        except ValueError:
            scheme, host = "", None
        if scheme not in ("http", "https") or not host:
            raise ConfigError(f"auth_url must be an http:// or https:// URL, not {auth_url!r}")
        if http is not None and cookies is not None:
            raise ConfigError("with http=, set the cookies on that httpx client")
        if max_queue < 1:
            raise ConfigError(f"max_queue must be at least 1, not {max_queue}")
        for name, value in (("request_timeout", request_timeout), ("open_timeout", open_timeout)):
            if not value > 0:  # NaN included
                raise ConfigError(f"{name} must be positive, not {value!r}")
        if not refresh_before >= 0:
            raise ConfigError(f"refresh_before must be zero or more, not {refresh_before!r}")
        self._route = AuthRoute(
            auth_url,
            headers=headers or {},
            cookies=cookies,
            http=http,
            allow_insecure_endpoint=allow_insecure_endpoint,
            refresh_before=refresh_before,
            timeout=request_timeout,
            clock=clock,
        )
        self._life = Lifecycle(
            self._route,
            origin=origin,
            backoff=backoff or Backoff(),
            request_timeout=request_timeout,
            open_timeout=open_timeout,
            max_queue=max_queue,
            on_state=on_state,
            on_presence=on_presence,
            on_channels=on_channels,
            on_reset=on_reset,
            clock=clock,
            sleep=sleep,
        )

    # Lifecycle

    async def connect(self, *, timeout: float | None = 30.0) -> None:
        """Authenticate, connect, and wait for the gateway's `welcome`.

        Failures that may pass (network errors, a gateway restarting) are retried with backoff
        until `timeout` seconds have passed (`None`: no limit).

        Raises:
            Unauthorized: the auth route answered 401 or 403, or the gateway refused the token.
            AuthError: the auth route answered something unusable (404, a redirect, a malformed
                body, an endpoint that is not `ws://`/`wss://`, or a `ws://` endpoint from an
                `https://` auth route without `allow_insecure_endpoint`).
            ProtocolError: the gateway refused the upgrade or closed with a terminal code.
            TimeoutError: not connected within `timeout`; the client is closed.
            ClientClosed: the client was already closed.
        """
        await self._life.connect(timeout)

    async def close(self) -> None:
        """Close the connection (code 1000) and stop for good; idempotent.

        Iteration ends once the messages already received are consumed; requests waiting for an
        answer raise `ClientClosed`.
        """
        await self._life.close()

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
        return self._life.state

    @property
    def error(self) -> ClientError | None:
        """The terminal error that closed the client, if any."""
        return self._life.error

    @property
    def identity(self) -> str | None:
        """The identity the gateway welcomed, once connected."""
        return self._life.grants.identity

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the current token grants, as the gateway acknowledged them."""
        return self._life.grants.channels

    @property
    def expires_at(self) -> int | None:
        """When the current token expires, epoch seconds (the gateway's clock)."""
        return self._life.grants.expires_at

    async def wait_for_state(
        self, *states: ConnectionState, timeout: float | None = None
    ) -> ConnectionState:
        """Wait until the state is one of `states`; return it.

        Raises:
            TimeoutError: `timeout` seconds passed first.
        """
        return await self._life.wait_for_state(*states, timeout=timeout)

    # Messages

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ClientMessage:
        while True:
            message = await self._life.inbox.get()
            if message is None:
                if self._life.error is not None:
                    raise self._life.error
                raise StopAsyncIteration
            # Messages still in flight when the caller unsubscribed are not handed out.
            if message.channel not in self._life.grants.unsubscribed:
                return message

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
            RequestRefused: `rate_limited`, over the connection's rate limit (retry later).
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        frame = {"event": "subscribe", "channel": channel_id}
        await self._life.request("subscribe", channel_id, frame)
        self._life.grants.unsubscribed.discard(channel_id)

    async def unsubscribe(self, channel: Channel) -> None:
        """Stop the delivery of a channel; kept across reconnects until `subscribe`. The
        gateway also drops this identity's presence there (from this connection).

        Raises:
            RequestRefused: `rate_limited`, over the connection's rate limit: the gateway
                still sends the channel (the client hands none of it out) and keeps this
                identity's presence there; call `unsubscribe` again later.
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        # Set first: no message of the channel is handed out once this was called.
        self._life.grants.unsubscribed.add(channel_id)
        self._life.grants.presence.pop(channel_id, None)
        # What is published while unsubscribed is not wanted: no resuming from here.
        self._life.grants.positions.pop(channel_id, None)
        frame = {"event": "unsubscribe", "channel": channel_id}
        await self._life.request("unsubscribe", channel_id, frame)

    async def set_presence(self, channel: Channel, data: Mapping[str, Any]) -> None:
        """Merge `data` into this identity's presence on `channel`, and wait until the gateway
        broadcast the change (to the channel's subscribers, this client among them). Presence
        is set again after a reconnect.

        Raises:
            Forbidden: the channel is not granted, or keeps no presence.
            RequestRefused: `invalid_presence`, the data does not match the channel's schema;
                `not_subscribed`, this client unsubscribed from the channel (`subscribe`
                first); `rate_limited`, over the connection's presence or request rate limit
                (retry later).
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        update = dict(data)
        frame = {"event": "setPresence", "channel": channel_id, "data": update}
        await self._life.request("setPresence", channel_id, frame)
        self._life.grants.presence.setdefault(channel_id, {}).update(update)

    async def get_presence(self, channel: Channel) -> dict[str, PresenceEntry]:
        """The presence of `channel`: an entry per identity.

        Raises:
            Forbidden: the channel is not granted.
            RequestRefused: `rate_limited`, over the connection's rate limit (retry later).
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        channel_id = _channel_id(channel)
        frame = {"event": "getPresence", "channel": channel_id}
        reply = await self._life.request("getPresence", channel_id, frame)
        return presence_state(reply.get("state"))

    async def history(
        self, channel: Channel, *, limit: int | None = None, cursor: str | None = None
    ) -> History:
        """A page of the channel's history through the app's route
        (`GET {auth_url}/{quoted id}/history`), with this client's headers and cookies. It
        does not need the WebSocket.

        Raises:
            Forbidden: the app does not grant this channel to this client (401).
            RequestRefused: `bad_request`, a bad channel id, limit or cursor (400).
            AuthError: the route is unreachable or answered something else (a redirect too).
            ClientClosed: the client is closed.
        """
        return await self._route.history(_channel_id(channel), limit=limit, cursor=cursor)

    async def refresh(self) -> None:
        """Fetch a new token from the auth route now and swap it in on the live connection.

        Deliveries of channels the new token no longer grants stop at once; newly granted ones
        start. The client also does this by itself before the token expires.

        Raises:
            Unauthorized: the auth route refused (terminal: the client closes).
            AuthError: the auth route failed.
            RequestRefused: the gateway refused the new token (`unauthorized`: it then closes
                with 4001, and the client reconnects with a fresh token), or `rate_limited`:
                over the connection's rate limit, nothing changed and the connection stays
                open (the client's own refreshes retry these after a short backoff).
            ConnectionLost, ClientClosed, TimeoutError: no answer from the gateway.
        """
        await self._life.refresh()

    def __repr__(self) -> str:
        state, identity = self._life.state, self._life.grants.identity
        return f"<sock8.Client {self._route.url} {state} identity={identity!r}>"
