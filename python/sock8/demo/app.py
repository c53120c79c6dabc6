"""The demo's example app: a small chat with per-user notifications, and the gateway mounted in
the same ASGI app.

It is what a sock8 user writes, at its smallest: a users table (the app's own), a session
cookie, a channel tree, an `authorize(conn)` that grants each signed-in user their own
notifications and the rooms they belong to, and app routes that `emit`. Because the gateway is
mounted in the same process, `emit` reaches it in-process through the `Sock8`'s in-memory broker.

Routes:

| route | what |
| --- | --- |
| `GET /` | the chat page, built on sock8.js (`demo/page.html`) |
| `GET /favicon.svg`, `GET /favicon.ico` | the page's icon |
| `GET /me` | the signed-in user and their rooms (`{"user": null}` when signed out) |
| `POST /login` `{"user": "alice"}` | sets the `session` cookie (signed: it survives a restart) |
| `POST /logout` | clears the session cookie |
| `POST /rooms/{room}/messages` `{"text"}` | the signed-in member says something in a room |
| `POST /notify/{user}` `{"title", "body"}` | sends a user a notification |
| `DELETE /rooms/{room}/members/{user}` | removes a user from a room (their next refresh drops it) |
| `/api/channels/...` | `with_sock8`: `POST /authenticate`, `GET /{id}/history` |
| `/gateway/...` | the gateway: WebSocket `/gateway/connect`, `/gateway/publish`, ... |
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

import sock8
from sock8.gateway import create_app
from sock8.integrations.starlette import with_sock8

__all__ = ["ChatMessage", "DemoApp", "Notification", "Typing", "User", "demo_secret"]

SESSION_COOKIE = "session"
AUTH_PATH = "/api/channels"
GATEWAY_PATH = "/gateway"
SECRET_FILE = "sock8-demo-secret"
"""Where `demo_secret` keeps the secret of `make serve`, in the temporary directory."""


def demo_secret() -> str:
    """The secret `make serve` signs with: `SOCK8_SECRET`, else one kept in a private file of
    the temporary directory, so that a restarted demo still accepts the tokens and session
    cookies of open pages (they reconnect by themselves instead of showing "signed out")."""
    configured = os.environ.get("SOCK8_SECRET")
    if configured:
        return configured
    path = Path(tempfile.gettempdir()) / SECRET_FILE
    try:
        secret = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        secret = ""
    if len(secret) < 32:
        secret = secrets.token_urlsafe(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secret)
    return secret


def _asset(name: str) -> bytes:
    return resources.files(__package__ or "sock8.demo").joinpath(name).read_bytes()


class Notification(BaseModel):
    """A message of `notification.{userId}`: for one user only."""

    title: str
    body: str


class ChatMessage(BaseModel):
    """A message of `chat.{roomId}.messages`."""

    author: str
    text: str = Field(max_length=2000)


class Typing(BaseModel):
    """Presence data of a chat room."""

    typing: bool


@dataclass
class User:
    """A row of the app's users table.

    Attributes:
        id: the user id, used as the sock8 identity.
        name: the display name.
        rooms: the chat rooms the user belongs to.
    """

    id: str
    name: str
    rooms: set[str] = field(default_factory=set)


class DemoApp:
    """The example app and its gateway, as one ASGI app (`DemoApp.asgi`).

    Arguments:
        gateway_url: the public WebSocket URL of the mounted gateway,
            `ws://<host>:<port>/gateway/connect`; sent to clients by the auth route.
        secret: the signing secret shared by the app and the gateway; a fresh random one by
            default (the gateway lives in this process, nothing else needs it).
        token_ttl: client token lifetime, in seconds.
    """

    def __init__(
        self, gateway_url: str, *, secret: str | None = None, token_ttl: int = 600
    ) -> None:
        secret = secret or secrets.token_urlsafe(32)
        self.s8 = sock8.Sock8(secret, gateway_url=gateway_url, token_ttl=token_ttl)
        # Session cookies are signed with a key of their own, derived from the secret: a
        # restarted app (same secret) still knows who is signed in.
        self._session_key = hmac.new(secret.encode(), b"demo session cookie", "sha256").digest()
        self.channels = self.s8.channels(
            {
                "notification.{userId}": Notification,
                "chat.{roomId}.messages": sock8.channel(ChatMessage, presence=Typing, history=True),
            }
        )
        self.users: dict[str, User] = {
            "alice": User("alice", "Alice", {"lobby", "design"}),
            "bob": User("bob", "Bob", {"lobby"}),
            "carol": User("carol", "Carol", {"design"}),
        }
        self.gateway = create_app(self.s8, channels=self.channels)
        self.asgi = Starlette(
            routes=[
                Route("/", self._page, methods=["GET"]),
                Route("/favicon.svg", self._favicon, methods=["GET"]),
                Route("/favicon.ico", self._favicon, methods=["GET"]),
                Route("/me", self._me, methods=["GET"]),
                Route("/login", self._login, methods=["POST"]),
                Route("/logout", self._logout, methods=["POST"]),
                Route("/rooms/{room}/messages", self._say, methods=["POST"]),
                Route("/rooms/{room}/members/{user}", self._remove_member, methods=["DELETE"]),
                Route("/notify/{user}", self._notify, methods=["POST"]),
                Mount(AUTH_PATH, app=with_sock8(self.s8, authorize=self.authorize)),
                Mount(GATEWAY_PATH, app=self.gateway),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Starlette does not run the lifespan of mounted apps: run the gateway's here.
        async with self.gateway.router.lifespan_context(self.gateway):
            yield

    # The app's own logic: what `authorize` and the routes use.

    def user_of(self, request: Request) -> User | None:
        """The signed-in user of a request, from its session cookie."""
        user_id, _, signature = request.cookies.get(SESSION_COOKIE, "").partition(".")
        if not hmac.compare_digest(signature, self._sign(user_id)):
            return None
        return self.users.get(user_id)

    def _sign(self, user_id: str) -> str:
        return hmac.new(self._session_key, user_id.encode(), hashlib.sha256).hexdigest()

    def authorize(self, conn: sock8.Connection[Request]) -> None:
        """Grant a signed-in user their notifications and their rooms; nothing to anyone else
        (the auth route then answers 401)."""
        user = self.user_of(conn.request)
        if user is None:
            return
        conn.identify_as(user.id)
        conn.grant(self.channels.notification.for_(userId=user.id))
        for room in sorted(user.rooms):
            conn.grant(self.room(room))

    def room(self, room: str) -> sock8.ChannelRef:
        """The channel of a chat room."""
        return self.channels.chat.messages.for_(roomId=room)

    def notification(self, user: str) -> sock8.ChannelRef:
        """The notification channel of a user."""
        return self.channels.notification.for_(userId=user)

    def login(self, user: str) -> str:
        """Open a session for `user`; return the session cookie's value (`user.signature`)."""
        if user not in self.users:
            raise KeyError(user)
        return f"{user}.{self._sign(user)}"

    async def notify(self, user: str, title: str, body: str) -> None:
        """Send `user` a notification."""
        await self.notification(user).aemit({"title": title, "body": body})

    async def say(self, room: str, author: str, text: str) -> None:
        """Post a chat message to a room."""
        await self.room(room).aemit({"author": author, "text": text})

    def remove_member(self, room: str, user: str) -> None:
        """Take `user` out of `room`: tokens issued from now on no longer grant it."""
        self.users[user].rooms.discard(room)

    # Routes

    async def _page(self, request: Request) -> HTMLResponse:
        return HTMLResponse(_asset("page.html"), headers={"Cache-Control": "no-cache"})

    async def _favicon(self, request: Request) -> Response:
        return Response(
            _asset("favicon.svg"),
            media_type="image/svg+xml",
            headers={"Cache-Control": "max-age=86400"},
        )

    async def _me(self, request: Request) -> Response:
        user = self.user_of(request)
        if user is None:
            # Not an error for the page: it shows the sign-in form.
            return JSONResponse({"user": None}, headers={"Cache-Control": "no-store"})
        return JSONResponse(
            {
                "user": user.id,
                "name": user.name,
                "rooms": sorted(user.rooms),
                "users": sorted(self.users),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _login(self, request: Request) -> Response:
        body = await _json(request)
        user = body.get("user")
        if not isinstance(user, str) or user not in self.users:
            return JSONResponse({"error": "unknown user"}, status_code=400)
        response = JSONResponse({"user": user})
        response.set_cookie(SESSION_COOKIE, self.login(user), httponly=True, samesite="strict")
        return response

    async def _logout(self, request: Request) -> Response:
        response = JSONResponse({"ok": True})
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def _say(self, request: Request) -> Response:
        user = self.user_of(request)
        room = request.path_params["room"]
        if user is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if room not in user.rooms:
            return JSONResponse({"error": "forbidden"}, status_code=403)
        text = (await _json(request)).get("text")
        if not isinstance(text, str) or not text:
            return JSONResponse({"error": "text is required"}, status_code=400)
        await self.say(room, user.id, text)
        return JSONResponse({"ok": True}, status_code=202)

    async def _notify(self, request: Request) -> Response:
        if self.user_of(request) is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        target = request.path_params["user"]
        if target not in self.users:
            return JSONResponse({"error": "unknown user"}, status_code=404)
        body = await _json(request)
        await self.notify(target, str(body.get("title", "")), str(body.get("body", "")))
        return JSONResponse({"ok": True}, status_code=202)

    async def _remove_member(self, request: Request) -> Response:
        # Any signed-in user may remove anyone: the scenario's app admin; the page only ever
        # removes its own user ("Leave room").
        if self.user_of(request) is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        user = request.path_params["user"]
        if user not in self.users:
            return JSONResponse({"error": "unknown user"}, status_code=404)
        self.remove_member(request.path_params["room"], user)
        return JSONResponse({"ok": True})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
