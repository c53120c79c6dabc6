"""The auth routes without a framework: run `authorize`, answer with a status and a JSON body.

Each adapter in `sock8.integrations` only turns its framework's request into a call here and
the `Reply` (`sock8._http`) into its framework's response. The routes (docs/protocol.md, "The
app's auth routes"):

- `POST {base}/authenticate`: 200 with an `IssuedToken` body; 401 when nothing was granted;
  500 when `authorize` raised (logged on the `sock8` logger, nothing leaked to the client).
- `GET {base}/{wire id}/history?limit=&cursor=`: `authorize` is run again for this request;
  401 unless it granted the channel; 400 for a bad id, `limit` or `cursor`.

With `allowed_origins`, both routes first refuse browser requests from other sites with 403
(`_check_origin`), before `authorize` runs, and answer CORS for the listed ones (`cors_headers`,
`AuthRoutes.preflight`): a page on another origin (a front-end dev server, an SPA on its own
domain) then reads the token and the history with the user's cookies. Only listed origins are
ever echoed, never `*`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeAlias
from urllib.parse import urlsplit

from typing_extensions import TypeVar

from sock8._http import (
    HistoryQuery,
    Reply,
    forbidden_origin,
    history_failed,
    history_query,
    history_reply,
    internal,
    read_history,
    unauthorized,
)
from sock8.connection import Connection
from sock8.errors import ConfigError

if TYPE_CHECKING:
    from sock8.app import Sock8

__all__ = [
    "PREFLIGHT_MAX_AGE",
    "AuthRoutes",
    "Authorize",
    "Headers",
    "RouteName",
    "checked_origins",
    "cors_headers",
    "is_async",
]

logger = logging.getLogger("sock8")

RequestT = TypeVar("RequestT", default=Any)

Authorize: TypeAlias = Callable[[Connection[RequestT]], Awaitable[None] | None]
"""`authorize(conn)`: a plain function or a coroutine function."""

RunSync: TypeAlias = Callable[..., Awaitable[Any]]
"""Runs a sync callable in a worker thread: `asyncio.to_thread`, Starlette's `run_in_threadpool`."""


class Headers(Protocol):
    """A request's headers, looked up by name whatever its case: Starlette's `Headers`,
    Werkzeug's `EnvironHeaders`, Django's `HttpHeaders`, aiohttp's `CIMultiDictProxy`."""

    def get(self, key: str, /) -> str | None:
        """The header's value, or `None` when the request has none."""
        ...


_CROSS_SITE = frozenset({"cross-site", "same-site"})
"""`Sec-Fetch-Site` values of a request that another site's page made."""


def _origin(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"allowed_origins must hold str origins, not {type(value).__name__}")
    if value.strip() == "*":
        raise ConfigError("allowed_origins: '*' would let every site in; list the origins")
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigError(
            f"allowed_origins: {value!r} is not an origin (scheme://host[:port], "
            "like 'https://app.example.com')"
        )
    # Browsers send the serialized origin: lower-case scheme and host, no default port.
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower()
    if port == {"http": 80, "https": 443}[scheme]:
        netloc = netloc.rpartition(":")[0]
    return f"{scheme}://{netloc}"


def checked_origins(origins: Iterable[str] | None) -> frozenset[str] | None:
    """An `allowed_origins` setting (`with_sock8`'s, the gateway's) checked and normalized to
    the form browsers send (lower-case scheme and host, no default port, no trailing slash);
    `None` means no check.

    Raises:
        TypeError: `origins` is a single `str`, or holds something else than `str`s.
        ConfigError: an entry is `*`, or not `scheme://host[:port]` (a path, a query, user info).
    """
    if origins is None:
        return None
    if isinstance(origins, str):
        # A str is an iterable of one-letter "origins": surely a missing pair of brackets.
        raise TypeError(f"allowed_origins must be a list of origins, not the str {origins!r}")
    return frozenset(_origin(origin) for origin in origins)


def _with_headers(reply: Reply, headers: dict[str, str]) -> Reply:
    if not headers:
        return reply
    return dataclasses.replace(reply, headers={**reply.headers, **headers})


def _check_origin(allowed: frozenset[str] | None, headers: Headers) -> Reply | None:
    """403 `forbidden_origin` for a browser request from a site `allowed` does not list.

    A page can make the user's browser send a form POST (or load a GET) to the auth routes
    from any site, with the user's cookies; sock8 answers CORS to listed origins only, so that
    page cannot read the token, but `authorize` and its side effects would run. Browsers say
    where a request comes from: `Origin` on every POST and CORS request, `Sec-Fetch-Site` on
    every request (recent browsers). Page scripts can set neither. Requests with neither header
    come from non-browser clients, which hold no victim's cookies: they pass.
    """
    if allowed is None:
        return None
    origin = headers.get("origin")
    if origin is not None:
        if origin.lower() in allowed:
            return None
        logger.info("refused a request to the auth routes from origin %r", origin[:200])
        return forbidden_origin()
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() in _CROSS_SITE:
        logger.info("refused a %s request to the auth routes without Origin", site[:40])
        return forbidden_origin()
    return None


PREFLIGHT_MAX_AGE = 600
"""Seconds a browser may cache a preflight's answer."""

RouteName: TypeAlias = Literal["authenticate", "history"]
"""One of the two auth routes, as adapters name it to `AuthRoutes.preflight`."""

_ROUTE_METHODS: dict[RouteName, str] = {"authenticate": "POST", "history": "GET, HEAD"}
"""What each route answers besides `OPTIONS`: `Access-Control-Allow-Methods` of its preflight."""

_HEADER_LIST = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")
"""An `Access-Control-Request-Headers` value: header names (RFC 9110 tokens) and commas."""


def _allowed_origin(allowed: frozenset[str] | None, headers: Headers) -> str | None:
    origin = headers.get("origin")
    if allowed is None or origin is None or origin.lower() not in allowed:
        return None
    return origin


def cors_headers(allowed: frozenset[str] | None, headers: Headers) -> dict[str, str]:
    """The CORS headers of an answer to a request with `headers`: none without
    `allowed_origins`; else `Vary: Origin` (the answer depends on it, for caches), and for a
    listed `Origin`, that origin and `Access-Control-Allow-Credentials: true`. Refusals carry
    them too: a page must read a 401 to know the user is signed out."""
    if allowed is None:
        return {}
    found = {"Vary": "Origin"}
    origin = _allowed_origin(allowed, headers)
    if origin is not None:
        found["Access-Control-Allow-Origin"] = origin
        found["Access-Control-Allow-Credentials"] = "true"
    return found


def is_async(function: object) -> bool:
    """Whether calling `function` returns a coroutine (coroutine functions and objects whose
    `__call__` is one)."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - we need the method itself
    )


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable


def _wait(awaitable: Awaitable[None]) -> None:
    # asgiref is what Flask and Django themselves use to run async code from a sync view; both
    # extras install it. Imported here so that the core package never needs it.
    from asgiref.sync import async_to_sync

    async_to_sync(_await)(awaitable)


class AuthRoutes(Generic[RequestT]):
    """The two routes for one app and one `authorize`, in a sync and an async flavour.

    Async frameworks call `authenticate` and `history`: a sync `authorize` runs in a worker
    thread (`run_sync`), an async one on the loop. Sync frameworks call `authenticate_sync` and
    `history_sync`: an async `authorize` runs through asgiref's `async_to_sync`. Every method
    takes the request's `headers` (for the `allowed_origins` check) besides the request itself.

    Raises:
        TypeError: `authorize` is not callable; `allowed_origins` is a `str` or holds non-`str`s.
        ConfigError: an entry of `allowed_origins` is `*` or not an origin.
    """

    def __init__(
        self,
        s8: Sock8,
        authorize: Authorize[RequestT],
        *,
        allowed_origins: Iterable[str] | None = None,
    ) -> None:
        if not callable(authorize):
            raise TypeError(f"authorize must be callable, not {authorize!r}")
        self._s8 = s8
        self._authorize = authorize
        self._is_async = is_async(authorize)
        self._allowed_origins = checked_origins(allowed_origins)

    @property
    def cors(self) -> bool:
        """Whether the routes answer CORS (`allowed_origins` was given): adapters then route
        `OPTIONS` to `preflight`."""
        return self._allowed_origins is not None

    def preflight(self, headers: Headers, route: RouteName) -> Reply:
        """The answer to an `OPTIONS` (CORS preflight) request for `route`: 200 with the CORS
        headers and the route's methods for a listed `Origin`, the request's headers allowed
        (a CSRF header, `Content-Type`); else 403 `forbidden_origin`."""
        methods = _ROUTE_METHODS[route]
        vary = {"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
        origin = _allowed_origin(self._allowed_origins, headers)
        if origin is None:
            return _with_headers(forbidden_origin(), vary)
        found = {
            **cors_headers(self._allowed_origins, headers),
            **vary,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
        }
        requested = (headers.get("access-control-request-headers") or "").strip()
        if requested and _HEADER_LIST.fullmatch(requested):
            found["Access-Control-Allow-Headers"] = requested
        return _with_headers(Reply(200, {}), found)

    async def authenticate(
        self, request: RequestT, *, headers: Headers, run_sync: RunSync | None = None
    ) -> Reply:
        """`POST {base}/authenticate` in an async view."""
        return self._cors(headers, await self._authenticate(request, headers, run_sync))

    def authenticate_sync(self, request: RequestT, *, headers: Headers) -> Reply:
        """`POST {base}/authenticate` in a sync view."""
        return self._cors(headers, self._authenticate_sync(request, headers))

    async def history(
        self,
        request: RequestT,
        channel: str,
        limit: str | None,
        cursor: str | None,
        *,
        headers: Headers,
        run_sync: RunSync | None = None,
    ) -> Reply:
        """`GET {base}/{channel}/history` in an async view; `channel` is the decoded path part."""
        query = self._checked_query(headers, channel, limit, cursor)
        if not isinstance(query, Reply):
            query = await self._history(request, query, run_sync)
        return self._cors(headers, query)

    def history_sync(
        self,
        request: RequestT,
        channel: str,
        limit: str | None,
        cursor: str | None,
        *,
        headers: Headers,
    ) -> Reply:
        """`GET {base}/{channel}/history` in a sync view; `channel` is the decoded path part."""
        query = self._checked_query(headers, channel, limit, cursor)
        if not isinstance(query, Reply):
            query = self._history_sync(request, query)
        return self._cors(headers, query)

    # The routes' answers before their CORS headers, added once by the public methods.

    async def _authenticate(
        self, request: RequestT, headers: Headers, run_sync: RunSync | None
    ) -> Reply:
        refused = _check_origin(self._allowed_origins, headers)
        if refused is not None:
            return refused
        conn = Connection(request)
        if not await self._run(conn, run_sync):
            return internal()
        return self._issue(conn)

    def _authenticate_sync(self, request: RequestT, headers: Headers) -> Reply:
        refused = _check_origin(self._allowed_origins, headers)
        if refused is not None:
            return refused
        conn = Connection(request)
        if not self._run_sync(conn):
            return internal()
        return self._issue(conn)

    async def _history(
        self, request: RequestT, query: HistoryQuery, run_sync: RunSync | None
    ) -> Reply:
        conn = Connection(request)
        if not await self._run(conn, run_sync):
            return internal()
        if not conn.allows(query.channel):
            return unauthorized()
        return await read_history(self._s8.publisher, query)

    def _history_sync(self, request: RequestT, query: HistoryQuery) -> Reply:
        conn = Connection(request)
        if not self._run_sync(conn):
            return internal()
        if not conn.allows(query.channel):
            return unauthorized()
        try:
            page = self._s8.publisher.history(query.channel, limit=query.limit, cursor=query.cursor)
        except Exception as exc:
            return history_failed(query, exc)
        return history_reply(page)

    def _cors(self, headers: Headers, reply: Reply) -> Reply:
        return _with_headers(reply, cors_headers(self._allowed_origins, headers))

    def _checked_query(
        self, headers: Headers, channel: str, limit: str | None, cursor: str | None
    ) -> HistoryQuery | Reply:
        # The origin first: another site learns nothing, not even whether its query is valid.
        return _check_origin(self._allowed_origins, headers) or history_query(
            channel, limit, cursor
        )

    async def _run(self, conn: Connection[RequestT], run_sync: RunSync | None) -> bool:
        try:
            if self._is_async:
                await self._authorize(conn)  # type: ignore[misc]  # is_async checked it
            else:
                result = await (run_sync or asyncio.to_thread)(self._authorize, conn)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            logger.exception("authorize raised; answering 500")
            return False
        return True

    def _run_sync(self, conn: Connection[RequestT]) -> bool:
        try:
            result = self._authorize(conn)
            if inspect.isawaitable(result):
                _wait(result)
        except Exception:
            logger.exception("authorize raised; answering 500")
            return False
        return True

    def _issue(self, conn: Connection[RequestT]) -> Reply:
        if not conn.channels:
            return unauthorized()
        try:
            issued = self._s8.issue_token(conn.identity, conn.channels)
        except Exception:
            logger.exception("signing a token for %r failed", conn.identity)
            return internal()
        return Reply(200, issued.as_json())
