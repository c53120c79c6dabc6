"""A gateway served on loopback for the socket tests of this area, and the values they share.

    with running(max_frame_bytes=2048) as setup:      # Gateway(secret=SECRET, clock=…, …)
        async with peer(setup.server.ws_url, setup.token()) as client:
            setup.publish(LOGS, "hello")

`running` builds a `Gateway` (or `serving` takes one already built) and serves it with
tests/support/live_server.py, the way `SERVERS[served_by]` says: as the standalone `sock8
gateway` does (picows behind the front step, uvicorn for HTTP) or as `create_app` mounted in an
ASGI server (uvicorn's own WebSocket protocol). `both_servers` runs a test both ways. The
`Setup` it yields signs client and publish tokens at the gateway's clock, publishes into the
gateway's broker and calls its HTTP routes. The area's
conftest.py turns the common case into the `setup` fixture.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sock8
from pydantic import BaseModel
from sock8.gateway import ManualClock
from sock8.gateway.app import Gateway
from sock8.gateway.server import front_protocol

from tests.support.live_server import Served, serve
from tests.support.secret import SECRET

NOW = 1_800_000_000.0
"""Where the gateways' manual clocks start."""
TTL = 600
"""The lifetime of the client tokens `Setup.token` signs."""

ROOM = sock8.render_channel("chat.{roomId}.messages", {"roomId": "r 1"})
OTHER_ROOM = sock8.render_channel("chat.{roomId}.messages", {"roomId": "r 2"})
NOTIFICATIONS = sock8.render_channel("notification.{userId}", {"userId": "u1"})
LOGS = "admin.logs"


class Typing(BaseModel):
    """The presence schema of the chat rooms in `chat_tree`."""

    typing: bool
    name: str = "anonymous"


def chat_tree(s8: sock8.Sock8) -> sock8.ChannelTree:
    """Chat rooms with `Typing` presence, per-user notifications (no presence) and the logs."""
    return s8.channels(
        {
            "chat.{roomId}.messages": sock8.channel(str, presence=Typing),
            "notification.{userId}": str,
            LOGS: str,
        }
    )


@dataclass
class Setup:
    """A served gateway.

    Attributes:
        gateway: the gateway.
        server: where it is served.
        grants: the channels `token()` grants when given none.
    """

    gateway: Gateway
    server: Served
    grants: tuple[str, ...] = (ROOM, LOGS)

    @property
    def clock(self) -> ManualClock:
        """The gateway's manual clock (`running` always gives one)."""
        clock = self.gateway.clock
        assert isinstance(clock, ManualClock), clock
        return clock

    @property
    def broker(self) -> sock8.MemoryBroker:
        """The gateway's broker: a `MemoryBroker` unless the test gave another."""
        broker = self.gateway.broker
        assert isinstance(broker, sock8.MemoryBroker), broker
        return broker

    def token(
        self,
        identity: str = "u1",
        channels: Iterable[str] | None = None,
        *,
        ttl: int = TTL,
        secret: str = SECRET,
        audience: str | None = "sock8",
        at: float | None = None,
    ) -> str:
        """A client token for `channels` (else `grants`), signed at the gateway's time."""
        signer = sock8.Signer(secret, audience=audience, ttl=ttl)
        granted = self.grants if channels is None else channels
        return signer.sign(identity, granted, now=self.gateway.clock.time() if at is None else at)

    def publish_token(self, *, secret: str = SECRET, audience: str = "sock8:publish") -> str:
        """A token for `POST /publish`, signed at the gateway's time."""
        signer = sock8.Signer(secret, audience=audience, ttl=60)
        return signer.sign("p", (), now=self.gateway.clock.time())

    def publish(self, channel: str, payload: Any) -> None:
        """Publish straight into the gateway's broker (thread-safe)."""
        self.gateway.broker.publish(channel, json.dumps(payload))

    def post(self, body: Any, token: str | None = None, **options: Any) -> httpx.Response:
        """`POST /publish` with `body` (bytes as they are, anything else as JSON)."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(
            self.server.url("/publish"), content=content, headers=headers, timeout=10, **options
        )

    def history(self, channel: str, token: str | None, query: str = "") -> httpx.Response:
        """`GET /history/{channel}` with `query` (`?limit=…`)."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        url = self.server.url(f"/history/{quote(channel, safe='')}{query}")
        return httpx.get(url, headers=headers, timeout=10)


SERVERS = ("standalone", "asgi")
"""How a gateway can be served: `sock8 gateway`'s server, or its ASGI app under uvicorn."""

both_servers = pytest.mark.parametrize("served_by", SERVERS, indirect=True)
"""Run a test (or, in `pytestmark`, a module's tests) once per server in `SERVERS`."""


@dataclass
class _Choice:
    served_by: str = "standalone"


CHOICE = _Choice()
"""How `serving` serves, for the running test (the conftest sets it)."""


@contextlib.contextmanager
def serving(gateway: Gateway, grants: tuple[str, ...] = (ROOM, LOGS)) -> Iterator[Setup]:
    """Serve `gateway` on loopback for the duration of the `with` block, as `CHOICE` says."""
    options: dict[str, Any] = {}
    if CHOICE.served_by == "standalone":
        options = {"http": front_protocol(gateway), "ws": "none", "loop": "asyncio"}
    with serve(gateway.app, **options) as server:
        yield Setup(gateway, server, grants)


@contextlib.contextmanager
def running(
    s8: sock8.Sock8 | None = None,
    *,
    start: float | None = NOW,
    grants: tuple[str, ...] = (ROOM, LOGS),
    **options: Any,
) -> Iterator[Setup]:
    """Serve `Gateway(s8, clock=ManualClock(start), **options)`, with `secret=SECRET` when no
    `s8` gives the keys. `start=None` starts the clock at the real time, for tokens that the
    app signs."""
    if s8 is None:
        options.setdefault("secret", SECRET)
    gateway = Gateway(s8, clock=ManualClock(start), **options)
    with serving(gateway, grants) as setup:
        yield setup
