"""The browser tests' world: an app (auth routes, a test page, logins) and its gateway, each on
its own loopback port, so that the gateway can restart while the app and the page stay.

The gateway runs on a `ManualClock`, and the app signs its tokens on that clock too
(`ClockedSock8`): a test moves time forward to expire tokens, instead of waiting.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sock8
from pydantic import BaseModel
from sock8.gateway import ManualClock, create_app
from sock8.integrations.starlette import with_sock8
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from tests.browser.servers import Restartable
from tests.support.live_server import free_port
from tests.support.secret import SECRET

TTL = 600
USERS = {"alice": ["design", "lobby"], "bob": ["lobby"], "carol": ["design"]}
LOBBY = "chat.lobby##roomId.messages"
"""The lobby's messages channel, as the page and the gateway name it."""
DESIGN = "chat.design##roomId.messages"
"""The design room's messages channel."""


class ChatMessage(BaseModel):
    """A message of `chat.{roomId}.messages`."""

    author: str
    text: str


class Notification(BaseModel):
    """A message of `notification.{userId}`."""

    title: str


class Typing(BaseModel):
    """Presence data of a chat room."""

    typing: bool


class ClockedSock8(sock8.Sock8):
    """A `Sock8` whose tokens are signed at `clock.time() + skew` (the app's clock, passed in)."""

    def __init__(self, *args: Any, clock: ManualClock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.skew = 0.0

    def issue_token(
        self, identity: str, channels: Iterable[str], *, now: float | None = None
    ) -> sock8.IssuedToken:
        """Sign on the test's clock unless told otherwise."""
        return super().issue_token(
            identity, channels, now=self.clock.time() + self.skew if now is None else now
        )


def page_html(gateway: str) -> str:
    """The test page, importing sock8.js from `gateway` (`http://host:port`)."""
    # The harness the tests drive: sock8.js imported from the gateway (another origin), and
    # every event of the client recorded in `window.events`.
    return f"""<!doctype html>
<meta charset="utf-8">
<title>sock8 browser tests</title>
<link rel="icon" href="data:,">
<script type="module">
import * as sock8 from {json.dumps(gateway + "/sock8.js")};
window.sock8 = sock8;
window.events = [];
const record = (event) => window.events.push(event);
const plain = (members) => Object.fromEntries(
  [...members].map(([id, entry]) => [id, JSON.parse(JSON.stringify(entry.data))]));
window.start = async (options = {{}}) => {{
  const client = new sock8.Sock8Client({{ authUrl: "/api/channels", ...options }});
  window.client = client;
  client.on("state", (state, info) =>
    record({{ kind: "state", state, code: info.code ?? null, reason: info.reason ?? null,
              retryIn: info.retryIn ?? null, error: info.error ? info.error.code : null }}));
  client.on("message", (payload, meta) =>
    record({{ kind: "message", channel: meta.channel, payload }}));
  client.on("channels", (channels) => record({{ kind: "channels", channels }}));
  client.on("error", (error) => record({{ kind: "error", code: error.code, name: error.name }}));
  try {{
    await client.connect();
    return {{ ok: true, identity: client.identity, channels: client.channels }};
  }} catch (error) {{
    return {{ ok: false, code: error.code, name: error.name, message: error.message }};
  }}
}};
window.watchPresence = (id) =>
  client.channel(id).on("presence", (members) =>
    record({{ kind: "presence", channel: id, members: plain(members) }}));
window.attempt = async (promise) => {{
  try {{ return {{ ok: true, value: await promise }}; }}
  catch (error) {{
    return {{ ok: false, code: error.code, name: error.name, message: error.message }};
  }}
}};
window.ready = true;
</script>
"""


@dataclass
class World:
    """The app and the gateway, served; `authenticated` counts the auth route's calls per user."""

    clock: ManualClock
    s8: ClockedSock8
    channels: sock8.ChannelTree
    app: Restartable
    gateway: Restartable
    authenticated: Counter[str] = field(default_factory=Counter)
    sessions: dict[str, str] = field(default_factory=dict)
    allowed_origins: list[str] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)
    """More HTML pages the app serves, at `/pages/{name}` (a test puts them here)."""

    def room(self, room: str) -> sock8.ChannelRef:
        """The channel of a chat room."""
        return self.channels.chat.messages.for_(roomId=room)

    def notification(self, user: str) -> sock8.ChannelRef:
        """A user's notification channel."""
        return self.channels.notification.for_(userId=user)

    def new_gateway(self) -> Any:
        """A fresh gateway app on the world's clock (what a restarted process serves)."""
        return create_app(self.s8, channels=self.channels, clock=self.clock)

    def restart_gateway(self) -> None:
        """Stop the gateway as a deploy does (1012), then serve a fresh one on the same port."""
        self.gateway.stop()
        self.gateway.start(self.new_gateway())

    def close(self) -> None:
        """Stop both servers."""
        self.gateway.stop()
        self.app.stop()


def build_world(*, allowed_origins: list[str] | None = None, app_port: int | None = None) -> World:
    """Serve a fresh app and gateway on loopback (the app on `app_port` when given)."""
    clock = ManualClock()
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    s8 = ClockedSock8(
        SECRET, gateway_url=f"ws://127.0.0.1:{gateway_port}/connect", token_ttl=TTL, clock=clock
    )
    channels = s8.channels(
        {
            "notification.{userId}": Notification,
            "chat.{roomId}.messages": sock8.channel(ChatMessage, presence=Typing, history=True),
        }
    )
    world = World(
        clock,
        s8,
        channels,
        Restartable(None, app_port),
        Restartable(None, gateway_port),
        allowed_origins=list(allowed_origins or []),
    )

    def user_of(request: Request) -> str | None:
        return world.sessions.get(request.cookies.get("session", ""))

    def authorize(conn: sock8.Connection[Request]) -> None:
        user = user_of(conn.request)
        if user is None:
            return
        world.authenticated[user] += 1
        conn.identify_as(user)
        conn.grant(world.notification(user))
        for room in USERS[user]:
            conn.grant(world.room(room))

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(page_html(gateway_url))

    async def extra_page(request: Request) -> Response:
        html = world.pages.get(request.path_params["name"])
        return HTMLResponse(html) if html is not None else Response(status_code=404)

    async def login(request: Request) -> Response:
        user = request.query_params["user"]
        session = secrets.token_urlsafe(16)
        world.sessions[session] = user
        response = JSONResponse({"user": user})
        response.set_cookie("session", session, httponly=True, samesite="lax")
        return response

    async def logout(request: Request) -> Response:
        world.sessions.pop(request.cookies.get("session", ""), None)
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/pages/{name}", extra_page),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Mount(
                "/api/channels",
                app=with_sock8(s8, authorize=authorize, allowed_origins=allowed_origins),
            ),
        ]
    )
    world.gateway.start(world.new_gateway())
    world.app.start(app)
    return world
