"""sock8's auth routes as a Flask `Blueprint`.

    app.register_blueprint(with_sock8(s8, authorize=authorize), url_prefix="/api/channels")

The views are sync. An async `authorize` runs through asgiref's `async_to_sync`, as Flask runs
async views (installed by `sock8[flask]`); each request still holds a worker while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from sock8._auth import Authorize, AuthRoutes, is_async
from sock8._http import Reply
from sock8.app import Sock8
from sock8.integrations import requires

with requires("flask"):
    from flask import Blueprint, Request, Response, jsonify, request

__all__ = ["with_sock8"]


def _response(reply: Reply) -> Response:
    response = jsonify(reply.body)
    response.status_code = reply.status
    response.headers.update(reply.headers)
    return response


def _request() -> Request:
    # The request object itself, not the context-local proxy: an async authorize runs in
    # another thread, and a connection may outlive the request context.
    return request._get_current_object()  # type: ignore[attr-defined,no-any-return]


def with_sock8(
    s8: Sock8,
    *,
    authorize: Authorize[Request],
    name: str = "sock8",
    allowed_origins: Iterable[str] | None = None,
) -> Blueprint:
    """A Blueprint with `POST /authenticate` and `GET /<wire id>/history`; register it.

    Arguments:
        s8: the app's `Sock8`.
        authorize: `authorize(conn)`, sync or async; `conn.request` is the Flask `Request`.
        name: the blueprint's name (endpoints are `<name>.authenticate`, `<name>.history`).
        allowed_origins: when given, the only sites whose pages may use the routes: a browser
            request from another site (its `Origin` not listed, or `Sec-Fetch-Site:
            cross-site`/`same-site` without `Origin`) gets 403 `{"error": "forbidden_origin"}`
            before `authorize` runs. List your own site's origin too (`https://app.example.com`).
            The routes also answer CORS for these origins (preflight `OPTIONS`, the origin
            echoed with `Access-Control-Allow-Credentials`), so their pages may call them
            with `credentials: "include"`; no CORS middleware is needed.
    """
    if is_async(authorize):
        with requires("flask", "asgiref"):
            import asgiref.sync  # noqa: F401 - fail now rather than on the first request
    routes = AuthRoutes(s8, authorize, allowed_origins=allowed_origins)
    blueprint = Blueprint(name, __name__)

    # With allowed_origins the views answer OPTIONS (CORS preflights) instead of Flask.
    preflight = ["OPTIONS"] if routes.cors else []

    @blueprint.route("/authenticate", methods=["POST", *preflight])
    def authenticate() -> Response:
        current = _request()
        if current.method == "OPTIONS":
            return _response(routes.preflight(current.headers, "authenticate"))
        return _response(routes.authenticate_sync(current, headers=current.headers))

    @blueprint.route("/<channel>/history", methods=["GET", *preflight])
    def history(channel: str) -> Response:
        current = _request()
        if current.method == "OPTIONS":
            return _response(routes.preflight(current.headers, "history"))
        query = current.args
        return _response(
            routes.history_sync(
                current, channel, query.get("limit"), query.get("cursor"), headers=current.headers
            )
        )

    return blueprint
