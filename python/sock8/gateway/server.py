"""The standalone gateway's server: picows for WebSocket `/connect`, uvicorn for the rest.

`sock8 gateway` serves the gateway's Starlette app with uvicorn (on uvloop when it is
installed), with `FrontProtocol` as uvicorn's HTTP protocol. The front step reads each new
connection's request head, then hands the connection, with the bytes read so far, to the
protocol that serves it:

- a WebSocket upgrade (`GET` with `Upgrade: websocket`) on the connect path → picows
  (gateway/transport_picows.py): frames are parsed and written in Cython, on the loop's own
  transport, with no ASGI message or task per frame;
- anything else (`POST /publish`, `GET /history/...`, `GET /health`, ...) → uvicorn's own HTTP
  protocol (httptools or h11) and the app.

A head larger than `HEAD_LIMIT` is answered 431; a connection that sends no complete head within
`HEAD_TIMEOUT` seconds is closed. The decision is made once per connection: an HTTP keep-alive
connection stays HTTP (browsers open a new connection for a WebSocket).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from sock8.gateway.transport_picows import websocket_protocol_factory

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from sock8.gateway.app import Gateway

__all__ = ["HEAD_LIMIT", "HEAD_TIMEOUT", "FrontProtocol", "front_protocol"]

HEAD_LIMIT = 16 * 1024
"""Largest request head (request line and headers) the front step reads."""
HEAD_TIMEOUT = 10.0
"""Seconds a new connection has to send its request head."""
CONNECT_PATH = b"/connect"

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 22\r\nConnection: close\r\n\r\n"
    b"request head too large"
)


def _is_websocket(head: bytes, path: bytes) -> bool:
    """Whether a request head asks for a WebSocket upgrade on `path`."""
    line, _, headers = head.partition(b"\r\n")
    parts = line.split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or parts[1].partition(b"?")[0] != path:
        return False
    for header in headers.split(b"\r\n"):
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


class _Side:
    """What every front protocol of one server shares: the gateway and the picows settings."""

    def __init__(
        self, gateway: Gateway, ping_interval: float | None, ping_timeout: float | None
    ) -> None:
        self.gateway = gateway
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._factories: dict[int, Callable[[], asyncio.BaseProtocol]] = {}

    def websocket(self, connections: set[Any]) -> Callable[[], asyncio.BaseProtocol]:
        factory = self._factories.get(id(connections))
        if factory is None:
            factory = self._factories[id(connections)] = websocket_protocol_factory(
                self.gateway, connections, self.ping_interval, self.ping_timeout
            )
        return factory


class FrontProtocol(asyncio.Protocol):
    """uvicorn's HTTP protocol for the gateway: routes each connection by its request head
    (see the module). Build it with `front_protocol`; uvicorn passes the rest."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        side: _Side,
    ) -> None:
        self._config = config
        self._state = server_state
        self._app_state = app_state
        self._loop = _loop
        self._side = side
        self._head = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Wait for the head (within `HEAD_TIMEOUT`)."""
        self._transport = transport  # type: ignore[assignment]  # uvloop's are alike, not subclasses
        self._state.connections.add(self)  # type: ignore[arg-type]
        self._timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT, transport.close)

    def data_received(self, data: bytes) -> None:
        """Gather the head; once complete, hand the connection over."""
        transport = self._transport
        if transport is None:
            return
        head = self._head
        head += data
        end = head.find(b"\r\n\r\n")
        if end < 0 or end > HEAD_LIMIT:
            if len(head) > HEAD_LIMIT:
                self._done()
                transport.write(_TOO_LARGE)
                transport.close()
            return
        self._done()
        received = bytes(head)
        protocol: asyncio.BaseProtocol
        if _is_websocket(received[:end], CONNECT_PATH):
            protocol = self._side.websocket(self._state.connections)()
        else:
            protocol = AutoHTTPProtocol(  # type: ignore[call-arg]
                config=self._config,
                server_state=self._state,
                app_state=self._app_state,
                _loop=self._loop,
            )
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if isinstance(protocol, asyncio.Protocol):
            protocol.data_received(received)
            return
        # picows' protocol is buffered: it reads into its own buffer.
        assert isinstance(protocol, asyncio.BufferedProtocol)
        view = memoryview(received)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            taken = min(len(buffer), len(view))
            buffer[:taken] = view[:taken]
            view = view[taken:]
            protocol.buffer_updated(taken)

    def _done(self) -> None:
        self._state.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._head = bytearray()

    def connection_lost(self, exc: Exception | None) -> None:
        """Gone before its head was complete."""
        self._done()
        self._transport = None

    def shutdown(self) -> None:
        """The server stops: a connection that has not sent its head is closed."""
        if self._transport is not None:
            self._transport.close()


def front_protocol(
    gateway: Gateway, *, ping_interval: float | None = None, ping_timeout: float | None = None
) -> Callable[..., asyncio.Protocol]:
    """`uvicorn.Config(gateway.app, http=front_protocol(gateway), ws="none")` serves `/connect`
    with picows and everything else with uvicorn's HTTP protocol (see the module)."""
    return partial(FrontProtocol, side=_Side(gateway, ping_interval, ping_timeout))


def _die_with_parent() -> None:
    """Have the kernel send SIGTERM to this (forked) process when its parent dies (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def run(
    build: Callable[[], Gateway],
    *,
    host: str,
    port: int,
    workers: int = 1,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    on_worker_exit: Callable[[int], None] | None = None,
    **options: Any,
) -> None:
    """Serve the gateway `build()` returns until SIGINT or SIGTERM: `/connect` with picows, the
    rest with uvicorn (see the module); `options` are more `uvicorn.Config` settings.

    With `workers` > 1, the socket is bound once and `workers` processes are forked, each
    building and serving its own gateway on it (they must share a broker and presence store,
    such as Redis, to be one gateway); the parent passes SIGINT/SIGTERM on and waits for them,
    and each exits when the parent dies; `on_worker_exit` is called with each ended worker's pid.
    """
    import os
    import signal

    import uvicorn

    def settings(gateway: Gateway) -> dict[str, Any]:
        front = front_protocol(gateway, ping_interval=ping_interval, ping_timeout=ping_timeout)
        return {
            "host": host,
            "port": port,
            "http": front,
            "ws": "none",
            # asyncio's loop, not uvloop: for a frame over 8 KiB, picows hands the transport a
            # view of its own reused header buffer; uvloop keeps such views unsent while the
            # socket is backed up, and the next frame overwrites them (asyncio copies). Sending
            # those frames with `send_reuse_external_bytearray` avoids it, but measured side by
            # side uvloop was no cheaper per delivery here (7.3 against 6.9 us at 5,000 clients).
            "loop": "asyncio",
            "lifespan": "on",
            "server_header": False,
            "log_config": None,
            **options,
        }

    def config(gateway: Gateway) -> uvicorn.Config:
        return uvicorn.Config(gateway.app, **settings(gateway))

    if workers <= 1:
        gateway = build()
        uvicorn.run(gateway.app, **settings(gateway))
        return
    sock = config(build()).bind_socket()
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - a child process
            # A group of its own: a terminal's Ctrl+C reaches the parent only, which passes it
            # on once (uvicorn takes a second signal as "exit now").
            os.setpgid(0, 0)
            _die_with_parent()
            status = 1
            try:
                uvicorn.Server(config(build())).run(sockets=[sock])
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    sock.close()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    remaining = set(children)
    while remaining:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        remaining.discard(pid)
        if on_worker_exit is not None:
            on_worker_exit(pid)
