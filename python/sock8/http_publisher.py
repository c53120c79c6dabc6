"""`HttpPublisher`: `emit` through a sock8 gateway's HTTP API, from any process.

It is `Sock8`'s default publisher. The gateway's URLs come from the app's `gateway_url`:
`ws://host:8787/connect` publishes to `http://host:8787/publish` (`wss` gives `https`; a final
`/connect` is replaced, any other path is kept as the base). Each request carries a short-lived
*publish token*: signed with the app's secret for the audience `<audience>:publish`, so a client
token can never publish and a publish token can never connect. One token is reused until shortly
before it expires.

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
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from sock8._core import Signer, __version__
from sock8.errors import ConfigError, PublishError
from sock8.publisher import HistoryPage, Message

try:
    import httpx
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    httpx = None  # type: ignore[assignment]

__all__ = ["HttpPublisher", "gateway_http_base", "publish_audience"]

PUBLISHER_IDENTITY: Final = "sock8:publisher"
"""The `sub` of publish tokens and of the tokens `history()` uses."""

CLOCK_SKEW: Final = 30
"""Seconds by which token times are moved back, so that a gateway whose clock runs a little
behind the app's does not see them as issued in the future."""


def publish_audience(audience: str | None) -> str:
    """The audience of publish tokens for an app whose client tokens use `audience`."""
    return f"{audience or 'sock8'}:publish"


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
    """Publishes to a sock8 gateway over HTTP (`POST /publish`) and reads its history
    (`GET /history/{id}`). Implements `sock8.Publisher`; thread-safe.

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
        ConfigError: a bad URL, or a secret, audience or TTL the signer refuses.
    """

    def __init__(
        self,
        gateway_url: str,
        secret: str | bytes,
        *,
        audience: str | None = "sock8",
        issuer: str | None = None,
        kid: str | None = None,
        timeout: float = 10.0,
        token_ttl: int = 300,
    ) -> None:
        self.base_url = gateway_http_base(gateway_url)
        """The gateway's HTTP base URL."""
        self.publish_url = self.base_url + "/publish"
        """Where messages are posted."""
        if token_ttl < 2 * CLOCK_SKEW:
            raise ConfigError(f"token_ttl must be at least {2 * CLOCK_SKEW} seconds")
        self._publish_signer = Signer(
            secret, kid=kid, audience=publish_audience(audience), issuer=issuer, ttl=token_ttl
        )
        # History reads need a client token (the gateway's /history checks grants like a client).
        self._client_signer = Signer(
            secret, kid=kid, audience=audience, issuer=issuer, ttl=2 * CLOCK_SKEW
        )
        self._timeout = timeout
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    # Publisher

    def publish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """POST the message to the gateway; returns once the gateway accepted it.

        Raises:
            PublishError: the gateway is unreachable or refused the message.
        """
        status, body = self._request(
            "POST", self.publish_url, self._publish_token(), _body(channel, payload, persist)
        )
        _check_publish(self.publish_url, status, body)

    async def apublish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """The async twin of `publish` (the request runs in a worker thread)."""
        await asyncio.to_thread(self.publish, channel, payload, persist=persist)

    def history(self, channel: str, *, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        """One page of the channel's history, from the gateway.

        Raises:
            ValueError: `limit` below 1, or a cursor the gateway refuses.
            ChannelError: `channel` is not a wire id.
            PublishError: the gateway is unreachable or answered otherwise.
        """
        url = self._history_url(channel, limit, cursor)
        status, body = self._request("GET", url, self._history_token(channel), None)
        return _history_page(url, channel, status, body)

    async def ahistory(
        self, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        """The async twin of `history` (the request runs in a worker thread)."""
        return await asyncio.to_thread(self.history, channel, limit=limit, cursor=cursor)

    def close(self) -> None:
        """Close the pooled connections; the publisher stays usable and reconnects."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # Tokens

    def _publish_token(self) -> str:
        now = time.time()
        cached = self._token
        if cached is not None and now < cached[1]:
            return cached[0]
        ttl = self._publish_signer.ttl
        token = self._publish_signer.sign(PUBLISHER_IDENTITY, (), now=now - CLOCK_SKEW)
        # Renewed a skew's worth before it expires, so that it never arrives expired.
        self._token = (token, now + ttl - 2 * CLOCK_SKEW)
        return token

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

    def _request(self, method: str, url: str, token: str, body: bytes | None) -> tuple[int, bytes]:
        if httpx is None:
            return _urllib_request(method, url, self._headers(token), body, self._timeout)
        with self._lock:
            client = self._client
            if client is None:
                client = self._client = httpx.Client(timeout=self._timeout)
        try:
            response = client.request(method, url, headers=self._headers(token), content=body)
        except httpx.HTTPError as exc:
            raise _unreachable(url, exc) from exc
        return response.status_code, response.content

    def __repr__(self) -> str:
        return f"HttpPublisher({self.base_url!r})"


def _body(channel: str, payload: str, persist: bool) -> bytes:
    # The payload is JSON text already (encoded once by emit): spliced in, not parsed again.
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


def _refused(url: str, status: int, body: bytes) -> PublishError:
    if status == 401:
        return PublishError(
            f"the sock8 gateway at {url} refused the token (401): do the app and the gateway "
            "share the secret, audience and issuer?"
        )
    return PublishError(f"the sock8 gateway at {url} answered {status}: {_excerpt(body)}")


def _check_publish(url: str, status: int, body: bytes) -> None:
    if not 200 <= status < 300:
        raise _refused(url, status, body)


def _history_page(url: str, channel: str, status: int, body: bytes) -> HistoryPage:
    if status == 400:
        detail = _json(body).get("detail") if body else None
        if detail == "invalid cursor":
            raise ValueError("invalid history cursor")
    if status != 200:
        raise _refused(url, status, body)
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
) -> tuple[int, bytes]:
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    request = Request(url, data=body, headers=headers, method=method)  # noqa: S310 - http(s) only
    try:
        with urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            return int(response.status), bytes(response.read())
    except HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (URLError, OSError) as exc:
        raise _unreachable(url, exc) from exc
