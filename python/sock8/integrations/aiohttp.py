"""sock8's auth routes as an aiohttp sub-application.

    app.add_subapp("/api/channels", with_sock8(s8, authorize=authorize))

A sync `authorize` runs in the loop's default executor; an async one on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from sock8._auth import Authorize, AuthRoutes
from sock8._http import Reply
from sock8.app import Sock8
from sock8.integrations import requires

with requires("aiohttp"):
    from aiohttp import web

__all__ = ["with_sock8"]


def _response(reply: Reply) -> web.Response:
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


def with_sock8(
    s8: Sock8, *, authorize: Authorize[web.Request], allowed_origins: Iterable[str] | None = None
) -> web.Application:
    """A sub-application with `POST /authenticate` and `GET /{wire id}/history`; add it.

    Arguments:
        s8: the app's `Sock8`.
        authorize: `authorize(conn)`, sync or async; `conn.request` is the aiohttp `web.Request`.
        allowed_origins: when given, the only sites whose pages may use the routes: a browser
            request from another site (its `Origin` not listed, or `Sec-Fetch-Site:
            cross-site`/`same-site` without `Origin`) gets 403 `{"error": "forbidden_origin"}`
            before `authorize` runs. List your own site's origin too (`https://app.example.com`).
            The routes also answer CORS for these origins (preflight `OPTIONS`, the origin
            echoed with `Access-Control-Allow-Credentials`), so their pages may call them
            with `credentials: "include"`; no CORS middleware is needed.
    """
    routes = AuthRoutes(s8, authorize, allowed_origins=allowed_origins)

    async def authenticate(request: web.Request) -> web.Response:
        return _response(await routes.authenticate(request, headers=request.headers))

    async def history(request: web.Request) -> web.Response:
        query = request.query
        reply = await routes.history(
            request,
            request.match_info["channel"],
            query.get("limit"),
            query.get("cursor"),
            headers=request.headers,
        )
        return _response(reply)

    app = web.Application()
    app.router.add_post("/authenticate", authenticate)
    app.router.add_get("/{channel}/history", history)
    if routes.cors:
        # Only with allowed_origins: otherwise aiohttp-cors may register its own OPTIONS.

        async def authenticate_preflight(request: web.Request) -> web.Response:
            return _response(routes.preflight(request.headers, "authenticate"))

        async def history_preflight(request: web.Request) -> web.Response:
            return _response(routes.preflight(request.headers, "history"))

        app.router.add_route("OPTIONS", "/authenticate", authenticate_preflight)
        app.router.add_route("OPTIONS", "/{channel}/history", history_preflight)
    return app
