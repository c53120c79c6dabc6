"""The gateway's HTTP endpoints: `POST /publish`, `GET /history/{id}`, `GET /health`, and the
browser client's files, `GET /sock8.js` and `GET /sock8.d.ts` (`sock8.static.routes`).

`/publish` takes only publish tokens (audience `<audience>:publish`); `/history` takes a client
token that grants the channel, the same token a client connects with. Every answer is JSON, and
every refusal a small JSON body with a stable `error` code (docs/protocol.md), including the
404s and 405s of the router and a 500 (`exception_handlers`). The replies, the history query and
the reading of the wire id from the path are `sock8._http`'s, shared with the app's auth routes.

The routes see their gateway through `RoutesHost`: token checks, clock, limits, channel rules,
broker, history store and counters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ExceptionHandler

from sock8._core import MAX_PAYLOAD_DEPTH, Grants, Verifier, check_json
from sock8._http import (
    Reply,
    bad_request,
    bearer_token,
    channel_of,
    channel_refusal,
    history_query,
    internal,
    read_history,
    refusal,
    unauthorized,
    unavailable,
)
from sock8.errors import PublishError, TokenError
from sock8.gateway.clock import Clock
from sock8.gateway.limits import Limits
from sock8.gateway.rules import ChannelRules
from sock8.gateway.stats import GatewayStats
from sock8.gateway.tokens import ClientTokens
from sock8.integrations.starlette import response
from sock8.publisher import Broker, HistoryStore
from sock8.static.routes import static_routes

__all__ = ["RoutesHost", "exception_handlers", "routes"]

logger = logging.getLogger("sock8.gateway")


class RoutesHost(Protocol):
    """What the HTTP routes need of their gateway (`Gateway` is one)."""

    @property
    def publish_verifier(self) -> Verifier:
        """Verifies the publish tokens of `/publish`."""

    @property
    def clock(self) -> Clock:
        """Time for token checks."""

    @property
    def limits(self) -> Limits:
        """`max_publish_bytes`."""

    @property
    def rules(self) -> ChannelRules:
        """Whether a channel keeps history, when the channel trees know it."""

    @property
    def broker(self) -> Broker:
        """Where `/publish` puts messages."""

    @property
    def history(self) -> HistoryStore:
        """Where `/history` reads."""

    @property
    def stats(self) -> GatewayStats:
        """`published` is counted here; `/health` reports `connections`."""

    @property
    def tokens(self) -> ClientTokens:
        """Checks the client tokens of `/history` as `/connect` does (revocations included)."""

    @property
    def broker_status(self) -> str:
        """`/health`'s `broker`: `"memory"`, `"ok"` or `"unavailable"`."""


_BEARER = "Bearer"
"""The `WWW-Authenticate` challenge of a 401: these endpoints take bearer tokens."""


def _verified(request: Request, verify: Callable[[str], Grants]) -> Grants | None:
    """What the request's bearer token grants, by `verify`, or `None` (none, or refused)."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    try:
        return verify(token)
    except TokenError as exc:
        logger.debug("refused a token on %s: %s", request.url.path, exc)
        return None


# The body is an object around the payload: one level more than a payload may nest.
_MAX_BODY_DEPTH = MAX_PAYLOAD_DEPTH + 1


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or `None` when it is over `limit` bytes (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _payload_text(payload: Any) -> str:
    # Re-encoded from the parsed value: whatever the body held, the frame gets compact JSON.
    # The body passed the strict check, so no NaN, infinity or lone surrogate can be in it.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _parse_body(body: bytes) -> tuple[Any, str | None]:
    """The parsed body, or `None` and why it is not one strict JSON value.

    `json.loads` alone would let the last of two `"channel"` members win (where another reader
    takes the first), and read `1e400` as infinity, which no JSON can carry on; the core's strict
    reader refuses both, and NaN, lone surrogates and nesting deeper than a payload may go.
    """
    try:
        check_json(body, max_depth=_MAX_BODY_DEPTH)
    except ValueError as exc:
        return None, f"body is not JSON: {str(exc).removeprefix('invalid JSON: ')}"
    # Cannot fail after the check (and stays well inside json's recursion limit).
    return json.loads(body), None


def routes(gateway: RoutesHost) -> list[Route]:
    """The HTTP routes of `gateway`."""

    async def publish(request: Request) -> JSONResponse:
        reply = await _publish(gateway, request)
        if reply.status != 202:
            gateway.stats.publish_refused(str(reply.body.get("error")))
        return response(reply)

    async def history(request: Request) -> JSONResponse:
        reply = await _history(gateway, request)
        gateway.stats.history_read(reply.status == 200)
        return response(reply)

    async def health(request: Request) -> JSONResponse:
        # 503 while the shared broker is unreachable: a load balancer takes the node out.
        status = gateway.broker_status
        healthy = status != "unavailable"
        body = {"ok": healthy, "connections": gateway.stats.connections, "broker": status}
        return response(Reply(200 if healthy else 503, body))

    return [
        Route("/publish", publish, methods=["POST"]),
        Route("/history/{channel}", history, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        *static_routes(),
    ]


async def _publish(gateway: RoutesHost, request: Request) -> Reply:
    verify = partial(gateway.publish_verifier.verify, now=gateway.clock.time())
    if _verified(request, verify) is None:
        return unauthorized(_BEARER)
    body = await _read_body(request, gateway.limits.max_publish_bytes)
    if body is None:
        return refusal(413, "too_large", "body over the size limit")
    data, problem = _parse_body(body)
    if problem is not None:
        return bad_request(problem)
    if not isinstance(data, dict) or "payload" not in data:
        return bad_request("body must be an object with channel and payload")
    channel = data.get("channel")
    persist = data.get("persist", False)
    if not isinstance(channel, str):
        return bad_request("channel must be a string")
    if not isinstance(persist, bool):
        return bad_request("persist must be true or false")
    refused = channel_refusal(channel)
    if refused is not None:
        return refused
    known = gateway.rules.history(channel)
    if known is not None:
        # The channel tree is the authority when the gateway has it.
        persist = known
    try:
        await gateway.broker.apublish(channel, _payload_text(data["payload"]), persist=persist)
    except PublishError as exc:
        # The broker could not take it (Redis unreachable): worth retrying, unlike a 500.
        # Not logged each time: the broker logs its outage once.
        logger.debug("publishing to %s failed: %s", channel, exc)
        return unavailable()
    except Exception:
        logger.exception("publishing to %s failed", channel)
        return internal()
    gateway.stats.published += 1
    return Reply(202, {"ok": True})


async def _history(gateway: RoutesHost, request: Request) -> Reply:
    query = history_query(
        channel_of(request), request.query_params.get("limit"), request.query_params.get("cursor")
    )
    if isinstance(query, Reply):
        return query
    # Checked as `/connect` checks it, revocations included.
    grants = _verified(request, gateway.tokens.verify)
    if grants is None or not grants.allows(query.channel):
        return unauthorized(_BEARER)
    return await read_history(gateway.history, query)


_ERROR_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """The router's refusals (404 for an unknown path, 405 with `Allow`) as JSON."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException
        raise exc
    status = exc.status_code
    code = _ERROR_CODES.get(status, f"http_{status}")
    return response(refusal(status, code, headers=exc.headers))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's server-error middleware still re-raises the exception, so the server logs it.
    return response(internal())


def exception_handlers() -> dict[Any, ExceptionHandler]:
    """Starlette `exception_handlers` that keep every HTTP answer of the gateway JSON."""
    return {HTTPException: _http_error, Exception: _internal_error}
