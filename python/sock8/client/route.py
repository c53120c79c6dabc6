"""`AuthRoute`: the app's `with_sock8` route, where a `sock8.Client` gets tokens and history.

Every request carries the headers and cookies the client was given, so the app's own session and
CSRF checks apply; that is also why the client never follows a redirect from the route, and
refuses an endpoint that would expose the token (docs/protocol.md, "Connecting").
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from sock8.client.errors import AuthError, ClientClosed, Forbidden, RequestRefused, Unauthorized
from sock8.client.values import History, HistoryItem

if TYPE_CHECKING:
    from http.cookiejar import CookieJar

    import httpx

__all__ = ["AuthRoute", "Token"]


@dataclass(frozen=True, slots=True)
class Token:
    """A token from the auth route, with what the route said about it.

    Attributes:
        token: the JWS, sent in the `auth` and `refresh` frames.
        endpoint: the gateway's WebSocket URL.
        identity: whom the token is for.
        channels: the channels it grants.
        expires_at: its `exp`, epoch seconds on the server's clock.
        refresh_at: when to fetch the next token, on the client's clock.
    """

    token: str
    endpoint: str
    identity: str
    channels: tuple[str, ...]
    expires_at: int
    refresh_at: float


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


def _redirect_error(route: str, response: httpx.Response) -> AuthError | None:
    """A terminal error for a redirect from the app's routes; `None` for other answers."""
    status = response.status_code
    if not 300 <= status < 400:
        return None
    location = response.headers.get("location", "")
    return AuthError(
        f"{route} answered HTTP {status}, a redirect to {location[:200]!r}: sock8.Client does "
        "not follow redirects (they would take its cookies and headers along); give it the "
        "URL where with_sock8 is mounted",
        status=status,
    )


class AuthRoute:
    """The app's auth route as a client uses it. Internal: `Client` creates it.

    Arguments:
        auth_url: where the app mounted `with_sock8` (an `http://` or `https://` URL).
        headers: sent with every request.
        cookies: the cookies of the route's own httpx client; `None` with `http`.
        http: an httpx client to use instead of one of its own; the caller closes it.
        allow_insecure_endpoint: accept a `ws://` endpoint from an `https://` route.
        refresh_before: fetch the next token this many seconds before `exp` (at most half the
            token's lifetime before).
        timeout: the timeout of the route's own httpx client.
        clock: the client's clock, epoch seconds.
    """

    def __init__(
        self,
        auth_url: str,
        *,
        headers: Mapping[str, str],
        cookies: httpx.Cookies | CookieJar | Mapping[str, str] | None,
        http: httpx.AsyncClient | None,
        allow_insecure_endpoint: bool,
        refresh_before: float,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self.url = auth_url.rstrip("/")
        """`auth_url` without its trailing slash."""
        self._is_tls = urlsplit(auth_url).scheme == "https"
        self._allow_insecure_endpoint = allow_insecure_endpoint
        self._headers = dict(headers)
        self._cookies = cookies
        self._http = http
        self._owns_http = http is None
        self._refresh_before = refresh_before
        self._timeout = timeout
        self._clock = clock
        self.closed = False
        """Set when the client closes: no request is sent after that."""

    async def token(self) -> Token:
        """A new token: `POST {auth_url}/authenticate`.

        Raises:
            Unauthorized: the route answered 401 or 403.
            AuthError: any other failure; `retryable` when another attempt may succeed.
            ClientClosed: the client is closed.
        """
        response = await self._call("POST", f"{self.url}/authenticate")
        status = response.status_code
        redirected = _redirect_error("the auth route", response)
        if redirected is not None:
            raise redirected
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
        refused = self._endpoint_error(endpoint)
        if refused is not None:
            raise refused
        now = self._clock()
        lifetime = _token_lifetime(token) or max(0.0, expires_at - now)
        margin = min(self._refresh_before, lifetime / 2)
        return Token(token, endpoint, identity, channels, expires_at, now + lifetime - margin)

    async def history(self, channel: str, *, limit: int | None, cursor: str | None) -> History:
        """A page of `channel`'s history: `GET {auth_url}/{quoted id}/history`.

        Raises:
            Forbidden: the app does not grant the channel (401 or 403).
            RequestRefused: `bad_request` (400).
            AuthError: unreachable, a redirect, another status, or a malformed answer.
            ClientClosed: the client is closed.
        """
        params: dict[str, str] = {}
        if limit is not None:
            params["limit"] = str(limit)
        if cursor is not None:
            params["cursor"] = cursor
        url = f"{self.url}/{quote(channel, safe='')}/history"
        response = await self._call("GET", url, params=params)
        redirected = _redirect_error(f"the history route of {channel!r}", response)
        if redirected is not None:
            raise redirected
        if response.status_code in (401, 403):
            raise Forbidden(channel, f"the app refused the history of {channel!r}")
        if response.status_code == 400:
            raise RequestRefused("bad_request", response.text[:200], channel=channel)
        if response.status_code != 200:
            raise AuthError(
                f"history of {channel!r}: HTTP {response.status_code}",
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
            raise AuthError(f"history of {channel!r}: malformed answer ({exc})") from None
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise AuthError(f"history of {channel!r}: malformed nextCursor")
        return History(channel, items, next_cursor)

    async def aclose(self) -> None:
        """Refuse further requests, and close the httpx client if it is the route's own."""
        self.closed = True
        http, self._http = self._http, None
        if http is not None and self._owns_http:
            await http.aclose()

    def _endpoint_error(self, endpoint: str) -> AuthError | None:
        """Why the client will not connect to the `endpoint` the auth route returned, if so.

        Terminal, like any answer of the route that retrying would only repeat: the app's
        `gateway_url` is wrong for this deployment."""
        try:
            parts = urlsplit(endpoint)
            scheme, host = parts.scheme.lower(), parts.hostname
        except ValueError:
            scheme, host = "", None
        if scheme not in ("ws", "wss") or not host:
            return AuthError(
                f"the auth route returned an endpoint that is not a ws:// or wss:// URL: "
                f"{endpoint[:200]!r}",
                status=200,
            )
        if scheme == "ws" and self._is_tls and not self._allow_insecure_endpoint:
            # The token would cross the network in clear text, readable and replayable by
            # anyone on the path, although the app itself is served over TLS. Another host
            # over wss:// is fine (a gateway on its own domain).
            return AuthError(
                f"the auth route at {self.url} returned the unencrypted endpoint "
                f"{endpoint[:200]!r}: serve the gateway over wss://, or pass "
                "allow_insecure_endpoint=True to sock8.Client (development only)",
                status=200,
            )
        return None

    async def _call(
        self, method: str, url: str, *, params: Mapping[str, str] | None = None
    ) -> httpx.Response:
        from http.cookiejar import CookieJar

        import httpx

        if self.closed:
            raise ClientClosed("the client is closed")
        if self._http is None:
            if not self._owns_http:
                raise ClientClosed("the client is closed")
            cookies = self._cookies
            if cookies is not None and not isinstance(cookies, httpx.Cookies | CookieJar):
                cookies = dict(cookies)
            self._http = httpx.AsyncClient(
                cookies=cookies, timeout=self._timeout, follow_redirects=False
            )
        try:
            # Never follow a redirect, even with an http= client that would: the cookies and
            # headers (a session, a CSRF token) must only ever reach auth_url.
            return await self._http.request(
                method, url, headers=self._headers, params=params, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise AuthError(f"{method} {url} failed: {exc!r}", retryable=True) from None
