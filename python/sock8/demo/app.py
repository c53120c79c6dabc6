"""The demo's example app: a small chat with per-user notifications, and the gateway mounted in
the same ASGI app.

It is what a sock8 user writes, at its smallest: a users table (the app's own), a session
cookie, a channel tree, an `authorize(conn)` that grants each signed-in user their own
notifications and the rooms they belong to, and app routes that `emit`. Because the gateway is
mounted in the same process, `emit` reaches it in-process through the `Sock8`'s in-memory broker.

Routes:

| route | what |
| --- | --- |
| `GET /` | a page to try it in a browser |
| `POST /login` `{"user": "alice"}` | sets the `session` cookie |
| `POST /logout` | forgets the session |
| `POST /rooms/{room}/messages` `{"text"}` | the signed-in member says something in a room |
| `POST /notify/{user}` `{"title", "body"}` | sends a user a notification |
| `DELETE /rooms/{room}/members/{user}` | removes a user from a room (their next refresh drops it) |
| `/api/channels/...` | `with_sock8`: `POST /authenticate`, `GET /{id}/history` |
| `/gateway/...` | the gateway: WebSocket `/gateway/connect`, `/gateway/publish`, ... |
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

import sock8
from sock8.gateway import create_app
from sock8.integrations.starlette import with_sock8

__all__ = ["ChatMessage", "DemoApp", "Notification", "Typing", "User"]

SESSION_COOKIE = "session"
AUTH_PATH = "/api/channels"
GATEWAY_PATH = "/gateway"


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
        self.s8 = sock8.Sock8(
            secret or secrets.token_urlsafe(32), gateway_url=gateway_url, token_ttl=token_ttl
        )
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
        self.sessions: dict[str, str] = {}
        """Session id (the cookie) -> user id."""
        self.gateway = create_app(self.s8, channels=self.channels)
        self.asgi = Starlette(
            routes=[
                Route("/", self._page, methods=["GET"]),
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
        session = request.cookies.get(SESSION_COOKIE)
        user_id = self.sessions.get(session) if session else None
        return self.users.get(user_id) if user_id else None

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
        """Open a session for `user`; return the session id (the cookie's value)."""
        if user not in self.users:
            raise KeyError(user)
        session = secrets.token_urlsafe(16)
        self.sessions[session] = user
        return session

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
        return HTMLResponse(_PAGE)

    async def _login(self, request: Request) -> Response:
        body = await _json(request)
        user = body.get("user")
        if not isinstance(user, str) or user not in self.users:
            return JSONResponse({"error": "unknown user"}, status_code=400)
        response = JSONResponse({"user": user})
        response.set_cookie(SESSION_COOKIE, self.login(user), httponly=True, samesite="strict")
        return response

    async def _logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
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


_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>sock8 demo</title>
<style>
  body { font: 15px system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; }
  #log { background: #f6f6f6; padding: .5rem; height: 22rem; overflow-y: auto;
         font: 13px ui-monospace, monospace; white-space: pre-wrap; }
  input, select, button { font: inherit; }
</style>
<h1>sock8 demo</h1>
<p>Sign in as a user, then open this page in a second window as another user.</p>
<p>
  <select id="user"><option>alice</option><option>bob</option><option>carol</option></select>
  <button id="login">Sign in &amp; connect</button>
  <span id="state">disconnected</span>
</p>
<p>
  <select id="room"><option>lobby</option><option>design</option></select>
  <input id="text" placeholder="Say something" size="40">
  <button id="send">Send</button>
</p>
<div id="log"></div>
<script>
const $ = (id) => document.getElementById(id);
const log = (line) => { $("log").textContent += line + "\\n";
                        $("log").scrollTop = $("log").scrollHeight; };
const roomId = (room) => `chat.${room}##roomId.messages`;
let ws = null;
$("login").onclick = async () => {
  const user = $("user").value;
  await fetch("/login", {method: "POST", body: JSON.stringify({user})});
  const auth = await fetch("/api/channels/authenticate", {method: "POST"});
  if (!auth.ok) { log(`authenticate: HTTP ${auth.status}`); return; }
  const {token, endpoint, channels} = await auth.json();
  log(`granted: ${channels.join(", ")}`);
  if (ws) ws.close();
  ws = new WebSocket(endpoint);
  $("state").textContent = "connecting";
  ws.onopen = () => ws.send(JSON.stringify({event: "auth", token}));
  ws.onclose = (e) => { $("state").textContent = `closed (${e.code})`; };
  ws.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    if (frame.event === "welcome") $("state").textContent = `connected as ${frame.identity}`;
    log(e.data);
  };
};
$("send").onclick = async () => {
  const room = $("room").value;
  const response = await fetch(`/rooms/${room}/messages`,
    {method: "POST", body: JSON.stringify({text: $("text").value})});
  if (!response.ok) log(`send: HTTP ${response.status}`);
  $("text").value = "";
};
// Presence is sent when the typing state changes, not on every keystroke: the gateway allows a
// connection a burst of 20 setPresence, then 5 a second.
let sent = null;
$("text").oninput = () => {
  if (!ws || ws.readyState !== 1) return;
  const channel = roomId($("room").value), typing = !!$("text").value;
  if (sent && sent.ws === ws && sent.channel === channel && sent.typing === typing) return;
  sent = {ws, channel, typing};
  ws.send(JSON.stringify({event: "setPresence", channel, data: {typing}}));
};
</script>
"""
