"""The errors `sock8.Client` raises; all are `sock8.Sock8Error`s."""

from __future__ import annotations

from sock8.errors import Sock8Error

__all__ = [
    "AuthError",
    "ClientClosed",
    "ClientError",
    "ConnectionLost",
    "Forbidden",
    "ProtocolError",
    "RequestRefused",
    "Unauthorized",
]


class ClientError(Sock8Error):
    """Base class of the errors `sock8.Client` raises."""


class Unauthorized(ClientError):
    """Terminal: the app's auth route answered 401 or 403 (the user is not signed in, or not
    allowed anything), or the gateway refused a freshly fetched token."""


class AuthError(ClientError):
    """The auth route could not be used: unreachable, a server error, a redirect (never
    followed), a malformed answer, or an endpoint the client refuses (not `ws://`/`wss://`, or
    `ws://` from an `https://` auth route without `allow_insecure_endpoint`).

    Attributes:
        status: the HTTP status, or `None` when no answer arrived.
        retryable: whether another attempt may succeed (network errors, 408, 429, 5xx). The
            client retries these itself, with backoff; the others are terminal.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class ProtocolError(ClientError):
    """Terminal: the gateway closed with a code retrying cannot fix (4400, 4003), or refused the
    WebSocket upgrade with a 4xx status."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class RequestRefused(ClientError):
    """The gateway answered a request with an error frame; the connection stays open.

    Attributes:
        code: the error code (`forbidden`, `invalid_presence`, `not_subscribed`,
            `rate_limited`, `unauthorized`, `bad_request`).
        channel: the channel of the request, if any.
    """

    def __init__(self, code: str, message: str, *, channel: str | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.channel = channel


class Forbidden(RequestRefused):
    """The channel is not granted to this client (subscribe, presence or history)."""

    def __init__(self, channel: str, message: str = "") -> None:
        super().__init__("forbidden", message or f"{channel!r} is not granted", channel=channel)


class ConnectionLost(ClientError):
    """The connection dropped before the gateway answered; the client reconnects by itself."""


class ClientClosed(ClientError):
    """The client was closed (by `close()`, or for good after a terminal error)."""
