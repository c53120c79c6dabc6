"""The auth routes without a framework: run `authorize`, answer with a status and a JSON body.

Each adapter in `sock8.integrations` only turns its framework's request into a call here and
the `Reply` into its framework's response. The routes (DESIGN §6):

- `POST {base}/authenticate`: 200 with an `IssuedToken` body; 401 when nothing was granted;
  500 when `authorize` raised (logged on the `sock8` logger, nothing leaked to the client).
- `GET {base}/{wire id}/history?limit=&cursor=`: `authorize` is run again for this request;
  401 unless it granted the channel; 400 for a bad id, `limit` or `cursor`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from typing_extensions import TypeVar

from sock8._core import parse_channel
from sock8.connection import Connection
from sock8.errors import ChannelError
from sock8.publisher import HistoryPage

if TYPE_CHECKING:
    from sock8.app import Sock8

__all__ = ["AuthRoutes", "Authorize", "Reply", "is_async"]

logger = logging.getLogger("sock8")

RequestT = TypeVar("RequestT", default=Any)

Authorize: TypeAlias = Callable[[Connection[RequestT]], Awaitable[None] | None]
"""`authorize(conn)`: a plain function or a coroutine function."""

RunSync: TypeAlias = Callable[..., Awaitable[Any]]
"""Runs a sync callable in a worker thread: `asyncio.to_thread`, Starlette's `run_in_threadpool`."""

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_INTEGER = re.compile(r"[+-]?[0-9]{1,32}")


def _no_store() -> dict[str, str]:
    # Tokens and per-user history must never sit in a shared cache.
    return {"Cache-Control": "no-store"}


@dataclass(frozen=True, slots=True)
class Reply:
    """A framework-free response: status, JSON body, headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=_no_store)


def _unauthorized() -> Reply:
    return Reply(401, {"error": "unauthorized"})


def _internal() -> Reply:
    return Reply(500, {"error": "internal"})


def _bad_request(detail: str) -> Reply:
    return Reply(400, {"error": "bad_request", "detail": detail})


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


@dataclass(frozen=True, slots=True)
class _HistoryQuery:
    channel: str
    limit: int
    cursor: str | None


def _history_query(channel: str, limit: str | None, cursor: str | None) -> _HistoryQuery | Reply:
    try:
        parse_channel(channel)
    except ChannelError:
        return _bad_request("not a channel id")
    if limit is None or limit == "":
        count = DEFAULT_LIMIT
    elif _INTEGER.fullmatch(limit):
        count = min(max(int(limit), 1), MAX_LIMIT)
    else:
        return _bad_request("limit must be an integer")
    return _HistoryQuery(channel, count, cursor or None)


def _history_failed(query: _HistoryQuery, exc: Exception) -> Reply:
    # Publishers raise ValueError for a cursor they did not issue (the Publisher contract).
    if isinstance(exc, ValueError):
        return _bad_request("invalid cursor")
    logger.error("reading the history of %s failed", query.channel, exc_info=exc)
    return _internal()


def _history_reply(page: HistoryPage) -> Reply:
    messages = [
        {"timestamp": message.timestamp, "payload": json.loads(message.payload)}
        for message in page.messages
    ]
    return Reply(200, {"messages": messages, "nextCursor": page.next_cursor})


class AuthRoutes(Generic[RequestT]):
    """The two routes for one app and one `authorize`, in a sync and an async flavour.

    Async frameworks call `authenticate` and `history`: a sync `authorize` runs in a worker
    thread (`run_sync`), an async one on the loop. Sync frameworks call `authenticate_sync` and
    `history_sync`: an async `authorize` runs through asgiref's `async_to_sync`.
    """

    def __init__(self, s8: Sock8, authorize: Authorize[RequestT]) -> None:
        if not callable(authorize):
            raise TypeError(f"authorize must be callable, not {authorize!r}")
        self._s8 = s8
        self._authorize = authorize
        self._is_async = is_async(authorize)

    async def authenticate(self, request: RequestT, *, run_sync: RunSync | None = None) -> Reply:
        """`POST {base}/authenticate` in an async view."""
        conn = Connection(request)
        if not await self._run(conn, run_sync):
            return _internal()
        return self._issue(conn)

    def authenticate_sync(self, request: RequestT) -> Reply:
        """`POST {base}/authenticate` in a sync view."""
        conn = Connection(request)
        if not self._run_sync(conn):
            return _internal()
        return self._issue(conn)

    async def history(
        self,
        request: RequestT,
        channel: str,
        limit: str | None,
        cursor: str | None,
        *,
        run_sync: RunSync | None = None,
    ) -> Reply:
        """`GET {base}/{channel}/history` in an async view; `channel` is the decoded path part."""
        query = _history_query(channel, limit, cursor)
        if isinstance(query, Reply):
            return query
        conn = Connection(request)
        if not await self._run(conn, run_sync):
            return _internal()
        if not conn.allows(query.channel):
            return _unauthorized()
        return await self._read(query)

    def history_sync(
        self, request: RequestT, channel: str, limit: str | None, cursor: str | None
    ) -> Reply:
        """`GET {base}/{channel}/history` in a sync view; `channel` is the decoded path part."""
        query = _history_query(channel, limit, cursor)
        if isinstance(query, Reply):
            return query
        conn = Connection(request)
        if not self._run_sync(conn):
            return _internal()
        if not conn.allows(query.channel):
            return _unauthorized()
        try:
            page = self._s8.publisher.history(query.channel, limit=query.limit, cursor=query.cursor)
        except Exception as exc:
            return _history_failed(query, exc)
        return _history_reply(page)

    async def _read(self, query: _HistoryQuery) -> Reply:
        try:
            page = await self._s8.publisher.ahistory(
                query.channel, limit=query.limit, cursor=query.cursor
            )
        except Exception as exc:
            return _history_failed(query, exc)
        return _history_reply(page)

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
            return _unauthorized()
        try:
            issued = self._s8.issue_token(conn.identity, conn.channels)
        except Exception:
            logger.exception("signing a token for %r failed", conn.identity)
            return _internal()
        return Reply(200, issued.as_json())
