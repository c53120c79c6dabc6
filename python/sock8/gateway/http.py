"""The gateway's HTTP endpoints: `POST /publish`, `GET /history/{id}`, `GET /health`.

`/publish` takes only publish tokens (audience `<audience>:publish`); `/history` takes a client
token that grants the channel, the same token a client connects with. Every answer is JSON, and
every refusal a small JSON body with a stable `error` code (docs/protocol.md), including the
404s and 405s of the router and a 500 (`exception_handlers`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ExceptionHandler

from sock8._auth import Reply, _history_failed, _history_query, _history_reply
from sock8._core import MAX_PAYLOAD_DEPTH, Grants, Verifier, check_json, parse_channel
from sock8.errors import ChannelError, TokenError

if TYPE_CHECKING:
    from sock8.gateway.app import Gateway

__all__ = ["exception_handlers", "routes"]

logger = logging.getLogger("sock8.gateway")

_NO_STORE = {"Cache-Control": "no-store"}


def _reply(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **(headers or {})})


def _unauthorized() -> JSONResponse:
    return _reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})


def _bad_request(detail: str) -> JSONResponse:
    return _reply(400, {"error": "bad_request", "detail": detail})


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _verified(request: Request, verifier: Verifier, now: float) -> Grants | None:
    token = _bearer(request)
    if token is None:
        return None
    try:
        return verifier.verify(token, now=now)
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


def routes(gateway: Gateway) -> list[Route]:
    """The HTTP routes of `gateway`."""

    async def publish(request: Request) -> JSONResponse:
        if _verified(request, gateway.publish_verifier, gateway.clock.time()) is None:
            return _unauthorized()
        body = await _read_body(request, gateway.max_publish_bytes)
        if body is None:
            return _reply(413, {"error": "too_large", "detail": "body over the size limit"})
        data, problem = _parse_body(body)
        if problem is not None:
            return _bad_request(problem)
        if not isinstance(data, dict) or "payload" not in data:
            return _bad_request("body must be an object with channel and payload")
        channel = data.get("channel")
        persist = data.get("persist", False)
        if not isinstance(channel, str):
            return _bad_request("channel must be a string")
        if not isinstance(persist, bool):
            return _bad_request("persist must be true or false")
        try:
            parse_channel(channel)
        except ChannelError:
            return _bad_request("not a channel id")
        known = gateway.rules.history(channel)
        if known is not None:
            # The channel tree is the authority when the gateway has it.
            persist = known
        try:
            await gateway.broker.apublish(channel, _payload_text(data["payload"]), persist=persist)
        except Exception:
            logger.exception("publishing to %s failed", channel)
            return _reply(500, {"error": "internal"})
        gateway.stats.published += 1
        return _reply(202, {"ok": True})

    async def history(request: Request) -> JSONResponse:
        query = _history_query(
            _channel_of(request),
            request.query_params.get("limit"),
            request.query_params.get("cursor"),
        )
        if isinstance(query, Reply):
            return _reply(query.status, query.body)
        grants = _verified(request, gateway.verifier, gateway.clock.time())
        if grants is None or not grants.allows(query.channel):
            return _unauthorized()
        try:
            page = await gateway.history.ahistory(
                query.channel, limit=query.limit, cursor=query.cursor
            )
        except Exception as exc:
            reply = _history_failed(query, exc)
        else:
            reply = _history_reply(page)
        return _reply(reply.status, reply.body)

    async def health(request: Request) -> JSONResponse:
        return _reply(200, {"ok": True, "connections": gateway.stats.connections})

    return [
        Route("/publish", publish, methods=["POST"]),
        Route("/history/{channel}", history, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]


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
    return _reply(status, {"error": code}, dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's server-error middleware still re-raises the exception, so the server logs it.
    return _reply(500, {"error": "internal"})


def exception_handlers() -> dict[Any, ExceptionHandler]:
    """Starlette `exception_handlers` that keep every HTTP answer of the gateway JSON."""
    return {HTTPException: _http_error, Exception: _internal_error}


def _channel_of(request: Request) -> str:
    """The wire id in `/history/{id}`, percent-decoded exactly once, from the raw path.

    A wire id never holds a raw `/` (it would be escaped), so it is the last path segment.
    Starlette's TestClient decodes the path twice (Kludex/starlette#2587); the raw path does not.
    """
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        return unquote(raw.split(b"?", 1)[0].rsplit(b"/", 1)[-1].decode("latin-1"))
    return str(request.path_params["channel"])
