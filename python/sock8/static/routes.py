"""`GET /sock8.js` and `GET /sock8.d.ts` as Starlette routes, for the gateway.

Public, identical for everyone, and free of credentials, so any site may load them: a page on
`app.example.com` imports the module from the gateway on `realtime.example.com`, which module
scripts only do with `Access-Control-Allow-Origin`. Browsers revalidate (`no-cache`) with the
`ETag`, and get a 304 without body until the package changes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sock8.static import NAMES, asset

__all__ = ["static_routes"]


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def _endpoint(name: str) -> Route:
    async def serve(request: Request) -> Response:
        found = asset(name)
        headers = {
            "ETag": found.etag,
            "Cache-Control": "no-cache",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        match = request.headers.get("if-none-match")
        if match is not None and (match.strip() == "*" or found.etag in _etags(match)):
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=found.content_type, headers=headers)

    return Route(f"/{name}", serve, methods=["GET"])


def static_routes() -> list[Route]:
    """The routes serving the browser client's files (HEAD too, as Starlette adds it)."""
    return [_endpoint(name) for name in NAMES]
