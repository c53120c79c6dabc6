"""sock8's auth routes as a FastAPI `APIRouter`.

    app.include_router(with_sock8(s8, authorize=authorize), prefix="/api/channels")

A sync `authorize` runs in the thread pool; an async one on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from sock8._auth import Authorize, AuthRoutes
from sock8._http import channel_of
from sock8.app import Sock8
from sock8.integrations import requires

with requires("fastapi"):
    from fastapi import APIRouter, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

from sock8.integrations.starlette import response

__all__ = ["with_sock8"]


def with_sock8(
    s8: Sock8,
    *,
    authorize: Authorize[Request],
    tags: list[str] | None = None,
    allowed_origins: Iterable[str] | None = None,
) -> APIRouter:
    """An `APIRouter` with `POST /authenticate` and `GET /{channel}/history`; include it.

    Arguments:
        s8: the app's `Sock8`.
        authorize: `authorize(conn)`, sync or async; `conn.request` is the Starlette `Request`.
        tags: OpenAPI tags of the two routes (default `["sock8"]`).
        allowed_origins: when given, the only sites whose pages may use the routes: a browser
            request from another site (its `Origin` not listed, or `Sec-Fetch-Site:
            cross-site`/`same-site` without `Origin`) gets 403 `{"error": "forbidden_origin"}`
            before `authorize` runs. List your own site's origin too (`https://app.example.com`).
            The routes also answer CORS for these origins (preflight `OPTIONS`, the origin
            echoed with `Access-Control-Allow-Credentials`), so their pages may call them
            with `credentials: "include"`; no CORS middleware is needed.
    """
    routes = AuthRoutes(s8, authorize, allowed_origins=allowed_origins)
    router = APIRouter(tags=list(tags or ["sock8"]))

    @router.post("/authenticate", response_class=JSONResponse)
    async def authenticate(request: Request) -> JSONResponse:
        """Run `authorize` and return a signed token for the channels it granted."""
        return response(
            await routes.authenticate(request, headers=request.headers, run_sync=run_in_threadpool)
        )

    @router.get("/{channel}/history", response_class=JSONResponse)
    async def history(
        request: Request, channel: str, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        """A granted channel's stored messages, newest first (`channel` is the wire id)."""
        # `channel` is declared for the OpenAPI schema; channel_of reads it decoded exactly once.
        reply = await routes.history(
            request,
            channel_of(request, followed_by="history"),
            limit,
            cursor,
            headers=request.headers,
            run_sync=run_in_threadpool,
        )
        return response(reply)

    if routes.cors:
        # Only with allowed_origins: otherwise an app's own CORS middleware answers OPTIONS.

        @router.options("/authenticate", include_in_schema=False)
        async def authenticate_preflight(request: Request) -> JSONResponse:
            return response(routes.preflight(request.headers, "authenticate"))

        @router.options("/{channel}/history", include_in_schema=False)
        async def history_preflight(request: Request) -> JSONResponse:
            return response(routes.preflight(request.headers, "history"))

    return router
