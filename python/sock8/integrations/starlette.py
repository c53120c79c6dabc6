"""sock8's auth routes as a Starlette app.

    app = Starlette(routes=[Mount("/api/channels", app=with_sock8(s8, authorize=authorize))])

A sync `authorize` runs in Starlette's thread pool; an async one on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from sock8._auth import Authorize, AuthRoutes
from sock8._http import Reply, channel_of
from sock8.app import Sock8
from sock8.integrations import requires

with requires("starlette"):
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

__all__ = ["with_sock8"]


def response(reply: Reply) -> JSONResponse:
    """A framework-free `Reply` as a Starlette response (also used by the FastAPI adapter and
    the gateway's HTTP endpoints)."""
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


def with_sock8(
    s8: Sock8, *, authorize: Authorize[Request], allowed_origins: Iterable[str] | None = None
) -> Starlette:
    """A Starlette app serving `POST /authenticate` and `GET /{wire id}/history`; mount it.

    Arguments:
        s8: the app's `Sock8`.
        authorize: `authorize(conn)`, sync or async; `conn.request` is the Starlette `Request`.
        allowed_origins: when given, the only sites whose pages may use the routes: a browser
            request from another site (its `Origin` not listed, or `Sec-Fetch-Site:
            cross-site`/`same-site` without `Origin`) gets 403 `{"error": "forbidden_origin"}`
            before `authorize` runs. List your own site's origin too (`https://app.example.com`).
            The routes also answer CORS for these origins (preflight `OPTIONS`, the origin
            echoed with `Access-Control-Allow-Credentials`), so their pages may call them
            with `credentials: "include"`; no CORS middleware is needed.
    """
    routes = AuthRoutes(s8, authorize, allowed_origins=allowed_origins)

    async def authenticate(request: Request) -> JSONResponse:
        if request.method == "OPTIONS":
            return response(routes.preflight(request.headers, "authenticate"))
        return response(
            await routes.authenticate(request, headers=request.headers, run_sync=run_in_threadpool)
        )

    async def history(request: Request) -> JSONResponse:
        if request.method == "OPTIONS":
            return response(routes.preflight(request.headers, "history"))
        reply = await routes.history(
            request,
            channel_of(request, followed_by="history"),
            request.query_params.get("limit"),
            request.query_params.get("cursor"),
            headers=request.headers,
            run_sync=run_in_threadpool,
        )
        return response(reply)

    # OPTIONS only with allowed_origins: otherwise an app's own CORS middleware answers it.
    preflight = ["OPTIONS"] if routes.cors else []
    return Starlette(
        routes=[
            Route("/authenticate", authenticate, methods=["POST", *preflight]),
            Route("/{channel}/history", history, methods=["GET", *preflight]),
        ]
    )
