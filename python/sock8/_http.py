"""sock8's HTTP answers without a framework: what the app's auth routes (`sock8._auth`, behind
every `with_sock8`) and the gateway's endpoints (`sock8.gateway.http`) both say, said once.

- `Reply`: a status, a JSON body and headers; each framework turns it into its own response.
  Every reply carries `Cache-Control: no-store`: tokens and per-user history must never sit in
  a shared cache.
- The refusals, `{"error": code, "detail"?}` with a stable `code` (docs/protocol.md, "HTTP
  endpoints" and "The app's auth routes").
- History: the auth routes' `GET {base}/{id}/history` and the gateway's `GET /history/{id}` take
  the same `limit` and `cursor` (`history_query`) and answer the same body (`read_history`).
- `channel_of`: the wire id in an ASGI request's path, percent-decoded exactly once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol
from urllib.parse import unquote

from sock8._core import parse_channel
from sock8.errors import ChannelError, PublishError
from sock8.publisher import HistoryPage, HistoryStore

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "NO_STORE",
    "HistoryQuery",
    "Reply",
    "RoutedRequest",
    "bad_request",
    "bearer_token",
    "channel_of",
    "channel_refusal",
    "forbidden_origin",
    "history_failed",
    "history_query",
    "history_reply",
    "internal",
    "read_history",
    "refusal",
    "unauthorized",
    "unavailable",
]

logger = logging.getLogger("sock8")

NO_STORE: Final[Mapping[str, str]] = MappingProxyType({"Cache-Control": "no-store"})
"""The header every reply carries."""

DEFAULT_LIMIT = 50
"""Messages in a history page when the query gives no `limit`."""
MAX_LIMIT = 100
"""Most messages in a history page: a larger `limit` is clamped to it."""

_INTEGER = re.compile(r"[+-]?[0-9]{1,32}")


def _no_store() -> dict[str, str]:
    return dict(NO_STORE)


@dataclass(frozen=True, slots=True)
class Reply:
    """A framework-free response: status, JSON body, headers (`NO_STORE` unless given)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=_no_store)


# Refusals.


def refusal(
    status: int, code: str, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> Reply:
    """`{"error": code, "detail"?}` with `status`, and `headers` besides `NO_STORE`."""
    body = {"error": code} if detail is None else {"error": code, "detail": detail}
    return Reply(status, body, {**NO_STORE, **(headers or {})})


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or `None`."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def unauthorized(challenge: str | None = None) -> Reply:
    """401 `unauthorized`; with `challenge` (`"Bearer"`), the `WWW-Authenticate` header."""
    headers = None if challenge is None else {"WWW-Authenticate": challenge}
    return refusal(401, "unauthorized", headers=headers)


def bad_request(detail: str) -> Reply:
    """400 `bad_request`, `detail` saying what is wrong."""
    return refusal(400, "bad_request", detail)


def forbidden_origin() -> Reply:
    """403 `forbidden_origin`: a browser request from a site that is not allowed."""
    return refusal(403, "forbidden_origin")


def internal() -> Reply:
    """500 `internal`; what failed is logged, never told to the client."""
    return refusal(500, "internal")


def unavailable() -> Reply:
    """503 `unavailable`: the broker (Redis) cannot be reached; retrying later may work."""
    return refusal(503, "unavailable")


def channel_refusal(channel: str) -> Reply | None:
    """`None` for a canonical wire id, else the 400 that refuses `channel`."""
    try:
        parse_channel(channel)
    except ChannelError:
        return bad_request("not a channel id")
    return None


# History.


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A checked history query: a wire id, a `limit` within 1 to `MAX_LIMIT`, a `cursor`."""

    channel: str
    limit: int
    cursor: str | None


def history_query(channel: str, limit: str | None, cursor: str | None) -> HistoryQuery | Reply:
    """The query of a history request, or the 400 that refuses it: `channel` must be a wire
    id, `limit` an integer (clamped to 1 to `MAX_LIMIT`; `DEFAULT_LIMIT` when missing or empty).
    An empty `cursor` is no cursor."""
    refused = channel_refusal(channel)
    if refused is not None:
        return refused
    if limit is None or limit == "":
        count = DEFAULT_LIMIT
    elif _INTEGER.fullmatch(limit):
        count = min(max(int(limit), 1), MAX_LIMIT)
    else:
        return bad_request("limit must be an integer")
    return HistoryQuery(channel, count, cursor or None)


def history_reply(page: HistoryPage) -> Reply:
    """200 `{"messages": [{"timestamp", "payload"}], "nextCursor"}`, newest first."""
    messages = [
        {"timestamp": message.timestamp, "payload": json.loads(message.payload)}
        for message in page.messages
    ]
    return Reply(200, {"messages": messages, "nextCursor": page.next_cursor})


def history_failed(query: HistoryQuery, exc: Exception) -> Reply:
    """The answer when reading the history raised `exc`: 400 for a cursor the store did not
    issue (a `ValueError`, by the `Publisher` contract), 503 when the store cannot be reached
    (a `PublishError`), else 500 (logged)."""
    if isinstance(exc, ValueError):
        return bad_request("invalid cursor")
    if isinstance(exc, PublishError):
        logger.debug("reading the history of %s failed: %s", query.channel, exc)
        return unavailable()
    logger.error("reading the history of %s failed", query.channel, exc_info=exc)
    return internal()


async def read_history(store: HistoryStore, query: HistoryQuery) -> Reply:
    """The page `query` asks for from `store`, as `history_reply` or `history_failed` say."""
    try:
        page = await store.ahistory(query.channel, limit=query.limit, cursor=query.cursor)
    except Exception as exc:
        return history_failed(query, exc)
    return history_reply(page)


# The wire id in a path.


class RoutedRequest(Protocol):
    """An ASGI request after routing, as Starlette (and FastAPI) give it."""

    @property
    def scope(self) -> Mapping[str, Any]:
        """The ASGI scope; servers put the undecoded path in `raw_path`."""

    @property
    def path_params(self) -> Mapping[str, Any]:
        """What the router matched; the wire id under `"channel"`."""


def channel_of(request: RoutedRequest, *, followed_by: str | None = None) -> str:
    """The wire id in the request's path, percent-decoded exactly once: the last path segment,
    or with `followed_by` the segment before a last segment of that text (`/{id}/history`).

    Read from the raw path, which ASGI servers pass: Starlette's own TestClient decodes the path
    twice (Kludex/starlette#2587), which would turn an escaped `%20` in a wire id into a space.
    A wire id never holds a raw `/` (it is escaped), so it is one segment. Without a raw path
    of that shape, the router's `path_params["channel"]`.
    """
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        segments = raw.split(b"?", 1)[0].split(b"/")
        if followed_by is None:
            return unquote(segments[-1].decode("latin-1"))
        if len(segments) >= 3 and segments[-1] == followed_by.encode():
            return unquote(segments[-2].decode("latin-1"))
    return str(request.path_params["channel"])
