"""sock8's auth routes as Django URL patterns.

    urlpatterns = [path("api/channels/", include(with_sock8(s8, authorize=authorize)))]

The views stay behind Django's middleware, CSRF included: the browser sends the `csrftoken`
cookie's value in an `X-CSRFToken` header with its POST (see the README). With a sync
`authorize` the views are sync; with an async one they are async views, so `authorize` must use
Django's async APIs (`await request.auser()`, `await request.session.aget(...)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sock8._auth import Authorize, AuthRoutes, RouteName, is_async
from sock8._http import Reply
from sock8.app import Sock8
from sock8.integrations import requires

with requires("django"):
    from django.http import (  # type: ignore[import-untyped]
        HttpRequest,
        HttpResponse,
        HttpResponseNotAllowed,
        JsonResponse,
    )
    from django.urls import URLPattern, path  # type: ignore[import-untyped]

__all__ = ["with_sock8"]

# Django's own require_safe methods; other frameworks also answer HEAD on their GET routes.
_SAFE = ["GET", "HEAD"]


def _response(reply: Reply) -> HttpResponse:
    return JsonResponse(reply.body, status=reply.status, headers=reply.headers)


def with_sock8(
    s8: Sock8, *, authorize: Authorize[HttpRequest], allowed_origins: Iterable[str] | None = None
) -> list[URLPattern]:
    """URL patterns for `POST authenticate` and `GET <wire id>/history`; `include()` them.

    Arguments:
        s8: the app's `Sock8`.
        authorize: `authorize(conn)`, sync or async; `conn.request` is the Django `HttpRequest`.
        allowed_origins: when given, the only sites whose pages may use the routes: a browser
            request from another site (its `Origin` not listed, or `Sec-Fetch-Site:
            cross-site`/`same-site` without `Origin`) gets 403 `{"error": "forbidden_origin"}`
            before `authorize` runs. List your own site's origin too. Django's CSRF middleware
            already guards the POST; this also covers the history GET. The routes also answer
            CORS for these origins (preflight `OPTIONS`, the origin echoed with
            `Access-Control-Allow-Credentials`); a cross-origin POST must still pass the CSRF
            check (`CSRF_TRUSTED_ORIGINS`, the `X-CSRFToken` header).
    """
    routes: AuthRoutes[HttpRequest] = AuthRoutes(s8, authorize, allowed_origins=allowed_origins)
    authenticate: Any
    history: Any

    def preflight(request: HttpRequest, route: RouteName) -> HttpResponse | None:
        # With allowed_origins the views answer OPTIONS (CORS preflights); else, as before, 405.
        if request.method != "OPTIONS" or not routes.cors:
            return None
        return _response(routes.preflight(request.headers, route))

    if is_async(authorize):

        async def authenticate(request: HttpRequest) -> HttpResponse:
            if (answer := preflight(request, "authenticate")) is not None:
                return answer
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return _response(await routes.authenticate(request, headers=request.headers))

        async def history(request: HttpRequest, channel: str) -> HttpResponse:
            if (answer := preflight(request, "history")) is not None:
                return answer
            if request.method not in _SAFE:
                return HttpResponseNotAllowed(_SAFE)
            query = request.GET
            reply = await routes.history(
                request, channel, query.get("limit"), query.get("cursor"), headers=request.headers
            )
            return _response(reply)

    else:

        def authenticate(request: HttpRequest) -> HttpResponse:
            if (answer := preflight(request, "authenticate")) is not None:
                return answer
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return _response(routes.authenticate_sync(request, headers=request.headers))

        def history(request: HttpRequest, channel: str) -> HttpResponse:
            if (answer := preflight(request, "history")) is not None:
                return answer
            if request.method not in _SAFE:
                return HttpResponseNotAllowed(_SAFE)
            query = request.GET
            return _response(
                routes.history_sync(
                    request,
                    channel,
                    query.get("limit"),
                    query.get("cursor"),
                    headers=request.headers,
                )
            )

    return [
        path("authenticate", authenticate, name="sock8-authenticate"),
        path("<str:channel>/history", history, name="sock8-history"),
    ]
