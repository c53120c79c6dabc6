"""`HttpPublisher`: `emit` through a sock8 gateway's HTTP API, from any process.

It is `Sock8`'s default publisher. The gateway's URLs come from the app's `gateway_url`:
`ws://host:8787/connect` publishes to `http://host:8787/publish` (`wss` gives `https`; a final
`/connect` is replaced, any other path is kept as the base). Each request carries a short-lived
*publish token*: signed with the app's secret for the audience `<audience>:publish`, so a client
token can never publish and a publish token can never connect. A fresh token is signed for every
request (about a microsecond, nothing next to the request), so none is kept in memory between
requests.

Redirects are never followed: a token sent to the address a redirect names would be a token
handed to whoever controls that address (any channel, for the token's lifetime). A 3xx answer is
a `PublishError` naming the status and the `Location`; point `gateway_url` at the final address.

Transport: one pooled `httpx.Client` when httpx is installed (`sock8[gateway]` or
`sock8[client]`), else the standard library (`urllib`). The async twins run the same client in
a worker thread: a pool of connections bound to one event loop (`httpx.AsyncClient`) would leak
its sockets whenever that loop ends first, which short-lived loops (asgiref's `async_to_sync`,
test clients, `asyncio.run` per job) do all the time; a worker thread keeps one pool for every
caller and never blocks the loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Final, NamedTuple
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from sock8._core import DEFAULT_AUDIENCE, Signer, __version__
from sock8.errors import ConfigError, PublishError
from sock8.publisher import HistoryPage, Message, check_payload
from sock8.revocation import Revocation

try:
    import httpx
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    httpx = None  # type: ignore[assignment]

__all__ = ["HttpPublisher", "check_client_audience", "gateway_http_base", "publish_audience"]

PUBLISHER_IDENTITY: Final = "sock8:publisher"
"""The `sub` of publish tokens and of the tokens `history()` uses."""

CLOCK_SKEW: Final = 30
"""Seconds by which token times are moved back, so that a gateway whose clock runs a little
behind the app's does not see them as issued in the future."""


PUBLISH_SUFFIX: Final = ":publish"
"""What every publish audience ends with, and so no client audience may."""


def publish_audience(audience: str | None) -> str:
    """The audience of publish tokens for an app whose client tokens use `audience`."""
    return f"{audience or DEFAULT_AUDIENCE}{PUBLISH_SUFFIX}"


def check_client_audience(audience: str | None) -> str | None:
    """`audience`, if it can be the audience of client tokens.

    A client audience that is some app's publish audience (`sock8:publish`, `x:publish`) would
    make every client token a publish token: clients could then publish to any channel. Every
    place that configures a client audience (`Sock8`, `Gateway`, `HttpPublisher`) calls this.

    Raises:
        ConfigError: `audience` ends with `:publish`.
    """
    if isinstance(audience, str) and audience.endswith(PUBLISH_SUFFIX):
        raise ConfigError(
            f"audience {audience!r:.100} ends with {PUBLISH_SUFFIX!r}, which publish tokens use: "
            "client tokens with it could publish to any channel"
        )
    return audience


def gateway_http_base(gateway_url: str) -> str:
    """The gateway's HTTP base URL from its WebSocket URL (`ws://h/connect` → `http://h`).

    `http(s)://` URLs are taken as they are; a final `/connect` is dropped, query and fragment
    too.

    Raises:
        ConfigError: not a `ws`, `wss`, `http` or `https` URL with a host.
    """
    try:
        parts = urlsplit(gateway_url)
    except ValueError as exc:
        raise ConfigError(f"gateway URL {gateway_url!r} is not a URL: {exc}") from None
    scheme = {"ws": "http", "wss": "https", "http": "http", "https": "https"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise ConfigError(
            f"gateway URL must be ws://, wss://, http:// or https://: {gateway_url!r}"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/connect"):
        path = path[: -len("/connect")]
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class HttpPublisher:
    """Publishes to a sock8 gateway over HTTP (`POST /publish`), reads its history
    (`GET /history/{id}`) and revokes tokens (`POST /revoke`). Implements `sock8.Publisher` and
    `sock8.revocation.Revoker`; thread-safe.

    Arguments:
        gateway_url: the gateway's WebSocket URL (as given to clients) or its HTTP base URL.
        secret: the app's secret, shared with the gateway.
        audience: the audience of the app's client tokens (publish tokens use
            `<audience>:publish`).
        issuer: the `iss` claim, if the gateway checks one.
        kid: the key name, when the gateway has named keys.
        timeout: seconds per HTTP request.
        token_ttl: lifetime of publish tokens, in seconds.

    Raises:
        ConfigError: a bad URL, an audience ending with `:publish`, or a secret, audience or
            TTL the signer refuses.
    """

    def __init__(
        self,
        gateway_url: str,
        secret: str | bytes,
        *,
        audience: str | None = DEFAULT_AUDIENCE,
        issuer: str | None = None,
        kid: str | None = None,
        timeout: float = 10.0,
        token_ttl: int = 300,
    ) -> None:
        self.base_url = gateway_http_base(gateway_url)
        """The gateway's HTTP base URL."""
        self.publish_url = self.base_url + "/publish"
        """Where messages are posted."""
        self.revoke_url = self.base_url + "/revoke"
        """Where revocations are posted."""
        if token_ttl < 2 * CLOCK_SKEW:
            raise ConfigError(f"token_ttl must be at least {2 * CLOCK_SKEW} seconds")
        check_client_audience(audience)
        # The signers hold the key in the core; the secret itself is not kept.
        self._publish_signer = Signer(
            secret, kid=kid, audience=publish_audience(audience), issuer=issuer, ttl=token_ttl
        )
        # History reads need a client token (the gateway's /history checks grants like a client).
        self._client_signer = Signer(
            secret, kid=kid, audience=audience, issuer=issuer, ttl=2 * CLOCK_SKEW
        )
        self._timeout = timeout
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    # Publisher

    def publish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """POST the message to the gateway; returns once the gateway accepted it.

        Raises:
            ValueError: `payload` is not exactly one JSON value; nothing is sent.
            PublishError: the gateway is unreachable, refused the message, or answered with a
                redirect (never followed: it would carry the publish token elsewhere).
        """
        # The payload is spliced into the body as text: one JSON value, or it could add members.
        check_payload(channel, payload)
        body = _body(channel, payload, persist)
        answer = self._request("POST", self.publish_url, self._publish_token(), body)
        _check_publish(self.publish_url, answer)

    async def apublish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """The async twin of `publish` (the request runs in a worker thread)."""
        await asyncio.to_thread(self.publish, channel, payload, persist=persist)

    def history(self, channel: str, *, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        """One page of the channel's history, from the gateway.

        Raises:
            ValueError: `limit` below 1, or a cursor the gateway refuses.
            ChannelError: `channel` is not a wire id.
            PublishError: the gateway is unreachable or answered otherwise (a redirect
                included: never followed, it would carry the token elsewhere).
        """
        url = self._history_url(channel, limit, cursor)
        answer = self._request("GET", url, self._history_token(channel), None)
        return _history_page(url, channel, answer)

    async def ahistory(
        self, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        """The async twin of `history` (the request runs in a worker thread)."""
        return await asyncio.to_thread(self.history, channel, limit=limit, cursor=cursor)

    # Revoker

    def revoke(self, revocation: Revocation) -> None:
        """POST the revocation to the gateway's `/revoke`; returns once the gateway took it.

        Raises:
            PublishError: the gateway is unreachable, refused it, or answered with a redirect.
        """
        body = json.dumps(revocation.as_json()).encode()
        answer = self._request("POST", self.revoke_url, self._publish_token(), body)
        _check_publish(self.revoke_url, answer)

    async def arevoke(self, revocation: Revocation) -> None:
        """The async twin of `revoke` (the request runs in a worker thread)."""
        await asyncio.to_thread(self.revoke, revocation)

    def close(self) -> None:
        """Close the pooled connections; the publisher stays usable and reconnects."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # Tokens

    def _publish_token(self) -> str:
        # Signed per request, never cached: a live token kept in an attribute would show in
        # vars(), debuggers and crash reports. Signing costs about a microsecond.
        return self._publish_signer.sign(PUBLISHER_IDENTITY, (), now=time.time() - CLOCK_SKEW)

    def _history_token(self, channel: str) -> str:
        return self._client_signer.sign(PUBLISHER_IDENTITY, [channel], now=time.time() - CLOCK_SKEW)

    def _history_url(self, channel: str, limit: int, cursor: str | None) -> str:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        query: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        return f"{self.base_url}/history/{quote(channel, safe='')}?{urlencode(query)}"

    # Transport

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": f"sock8/{__version__}",
        }

    def _request(self, method: str, url: str, token: str, body: bytes | None) -> _Answer:
        if httpx is None:
            return _urllib_request(method, url, self._headers(token), body, self._timeout)
        with self._lock:
            client = self._client
            if client is None:
                client = self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
        try:
            # httpx does not follow redirects by default; said here too, as it carries a token.
            response = client.request(
                method, url, headers=self._headers(token), content=body, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise _unreachable(url, exc) from exc
        return _Answer(response.status_code, response.content, response.headers.get("location"))

    def __repr__(self) -> str:
        return f"HttpPublisher({self.base_url!r})"


class _Answer(NamedTuple):
    """What the gateway answered."""

    status: int
    body: bytes
    location: str | None


def _body(channel: str, payload: str, persist: bool) -> bytes:
    # The payload is JSON text already (encoded once by emit, checked by publish): spliced in,
    # not parsed again.
    text = (
        '{"channel":'
        + json.dumps(channel)
        + ',"payload":'
        + payload
        + ',"persist":'
        + ("true" if persist else "false")
        + "}"
    )
    return text.encode()


def _unreachable(url: str, exc: BaseException) -> PublishError:
    return PublishError(f"could not reach the sock8 gateway at {url}: {exc or type(exc).__name__}")


def _excerpt(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace")
    return text + ("…" if len(body) > 200 else "")


def _shorten(text: str, limit: int = 200) -> str:
    return text[:limit] + ("…" if len(text) > limit else "")


def _refused(url: str, answer: _Answer) -> PublishError:
    status = answer.status
    if 300 <= status < 400:
        where = "no Location" if answer.location is None else repr(_shorten(answer.location))
        return PublishError(
            f"the sock8 gateway at {url} answered {status}, a redirect ({where}): not followed, "
            "as it would send the token to another address; set gateway_url to the final address"
        )
    if status == 401:
        return PublishError(
            f"the sock8 gateway at {url} refused the token (401): do the app and the gateway "
            "share the secret, audience and issuer?"
        )
    return PublishError(f"the sock8 gateway at {url} answered {status}: {_excerpt(answer.body)}")


def _check_publish(url: str, answer: _Answer) -> None:
    if not 200 <= answer.status < 300:
        raise _refused(url, answer)


def _history_page(url: str, channel: str, answer: _Answer) -> HistoryPage:
    status, body = answer.status, answer.body
    if status == 400:
        detail = _json(body).get("detail") if body else None
        if detail == "invalid cursor":
            raise ValueError("invalid history cursor")
    if status != 200:
        raise _refused(url, answer)
    data = _json(body)
    messages: list[Message] = []
    try:
        for item in data["messages"]:
            timestamp = item["timestamp"]
            if not isinstance(timestamp, int):
                raise TypeError("timestamp")
            payload = json.dumps(item["payload"], separators=(",", ":"), ensure_ascii=False)
            messages.append(Message(channel, payload, timestamp))
        cursor = data["nextCursor"]
        if cursor is not None and not isinstance(cursor, str):
            raise TypeError("nextCursor")
    except (KeyError, TypeError) as exc:
        raise PublishError(f"the sock8 gateway at {url} sent a malformed history page") from exc
    return HistoryPage(tuple(messages), cursor)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _urllib_request(
    method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
) -> _Answer:
    from urllib.error import HTTPError, URLError
    from urllib.request import HTTPRedirectHandler, Request, build_opener

    class NoRedirects(HTTPRedirectHandler):
        """urlopen follows 301/302/303/307/308 to any origin and sends the `Authorization`
        header along; refusing here turns a redirect into an `HTTPError` with its status."""

        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    # build_opener replaces the default redirect handler with this subclass; proxies and the
    # rest stay as urlopen has them.
    opener = build_opener(NoRedirects)
    request = Request(url, data=body, headers=headers, method=method)  # noqa: S310 - http(s) only
    try:
        with opener.open(request, timeout=timeout) as response:
            return _Answer(int(response.status), bytes(response.read()), None)
    except HTTPError as exc:
        with exc:
            return _Answer(exc.code, exc.read(), exc.headers.get("location"))
    except (URLError, OSError) as exc:
        raise _unreachable(url, exc) from exc
