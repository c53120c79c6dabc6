"""Run an ASGI app (a sock8 gateway) on a real loopback socket for a test.

    from tests.support.live_server import serve

    app = create_app(secret=SECRET)
    with serve(app) as server:                      # sync and async tests alike
        async with websockets.connect(server.ws_url) as ws:
            ...
        httpx.post(server.url("/publish"), ...)

uvicorn runs in a background thread with its own event loop, on `127.0.0.1` and a port the
kernel picked, with permessage-deflate off; `serve(gateway.app, http=front_protocol(gateway),
ws="none", loop="asyncio")` serves a gateway as `sock8 gateway` does (tests/gateway/harness.py).
The `with` block starts only once the server listens, and stops the server (and joins its
thread) when it ends, forcing the exit if a connection does not close in time.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Served:
    """A running server.

    Attributes:
        host: always `127.0.0.1`.
        port: the port the kernel chose.
        app: the ASGI app being served.
        loop: the server thread's event loop (to run code next to the gateway:
            `asyncio.run_coroutine_threadsafe(coro, served.loop)`).
    """

    host: str
    port: int
    app: Any
    loop: asyncio.AbstractEventLoop

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The gateway's WebSocket URL, `ws://127.0.0.1:<port>/connect`."""
        return f"ws://{self.host}:{self.port}/connect"

    def url(self, path: str) -> str:
        """`base_url + path`; `path` starts with `/`."""
        return self.base_url + path


class ThreadedServer(uvicorn.Server):
    """A uvicorn server for a background thread: it reports when it listens (`ready`, `loop`),
    never installs signal handlers, and aborts at shutdown the connections that did not close."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then report it."""
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)
        self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown, then an abort of whatever connection is left."""
        await super().shutdown(sockets)
        # A connection whose peer never read keeps its transport waiting to flush; abort it,
        # so that no socket outlives the loop (and warns later, in another test).
        self.abort_connections()
        await asyncio.sleep(0)  # let connection_lost run

    def abort_connections(self) -> None:
        """Abort every open connection without a close frame; call it on the server's loop."""
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
            elif callable(abort := getattr(connection, "abort", None)):
                abort()  # the standalone gateway's picows connections


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def loopback_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound to `127.0.0.1:port` (0: a port the kernel picks), to serve on."""
    # Created as TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose protocol says
    # TCP, and without it every keep-alive reply waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@dataclass
class ServerThread:
    """`app` served by a `ThreadedServer` on a thread of its own.

    Attributes:
        server: the uvicorn server (its `loop` is set once it listens).
        thread: the thread it runs on.
        failure: what `server.run` raised, if it did.
    """

    server: ThreadedServer
    thread: threading.Thread
    failure: list[BaseException]

    @classmethod
    def start(cls, app: Any, sock: socket.socket, **options: Any) -> ServerThread:
        """Serve `app` on `sock` (permessage-deflate off; `options`: more `uvicorn.Config`
        settings), once it listens.

        Raises:
            RuntimeError: it did not start within `START_TIMEOUT` seconds, or failed to.
        """
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            ws_per_message_deflate=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            **options,
        )
        server = ThreadedServer(config)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported to the test thread
                failure.append(exc)
                server.ready.set()

        thread = threading.Thread(target=run, name=f"uvicorn-{sock.getsockname()[1]}", daemon=True)
        thread.start()
        running = cls(server, thread, failure)
        if not server.ready.wait(START_TIMEOUT) or failure or server.loop is None:
            running.stop()
            raise RuntimeError(f"the test server did not start: {failure or 'timeout'}")
        if not server.started:
            running.stop()
            raise RuntimeError("the test server did not start (lifespan startup failed?)")
        return running

    def stop(self) -> None:
        """Shut down gracefully (WebSockets get close code 1012), joining the thread; force the
        exit when a connection does not close in time (a peer that never reads)."""
        self.server.should_exit = True
        self.thread.join(STOP_TIMEOUT)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(STOP_TIMEOUT)


@contextlib.contextmanager
def serve(app: Any, *, ws_max_size: int = 16 * 1024 * 1024, **options: Any) -> Iterator[Served]:
    """Serve `app` on `127.0.0.1:<free port>` for the duration of the `with` block.

    Arguments:
        ws_max_size: uvicorn's own frame limit; keep it above the gateway's `max_frame_bytes` so
            that the gateway (not uvicorn) answers oversized frames.
        options: more `uvicorn.Config` settings.
    """
    sock = loopback_socket()
    port = sock.getsockname()[1]
    try:
        running = ServerThread.start(app, sock, ws_max_size=ws_max_size, **options)
        try:
            assert running.server.loop is not None
            yield Served("127.0.0.1", port, app, running.server.loop)
        finally:
            running.stop()
    finally:
        sock.close()
    if running.failure:
        raise RuntimeError("the test server failed") from running.failure[0]


# WebSocket peers for the gateway tests.

TIMEOUT = 10.0
"""Seconds to wait for any one expected frame or event; never reached when things work."""


class Peer:
    """A `websockets` client connection speaking the gateway's JSON frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}

    async def send(self, **frame: Any) -> None:
        """Send one JSON frame built from the keyword arguments."""
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame, parsed."""
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(text, str), text
        frame = json.loads(text)
        assert isinstance(frame, dict), frame
        return frame

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int | None, list[dict[str, Any]]]:
        """Read until the server closes; the close code and the frames read before it."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            try:
                while True:
                    seen.append(json.loads(await self.ws.recv()))
            except websockets.ConnectionClosed:
                pass
        return self.ws.close_code, seen


@contextlib.asynccontextmanager
async def peer(
    url: str, token: str | None = None, **options: Any
) -> collections.abc.AsyncIterator[Peer]:
    """Connect to `url`; with `token`, authenticate and check the `welcome` first."""
    async with websockets.connect(
        url, compression=None, open_timeout=TIMEOUT, close_timeout=2, **options
    ) as ws:
        client = Peer(ws)
        if token is not None:
            await client.send(event="auth", token=token)
            client.welcome = await client.recv()
            assert client.welcome["event"] == "welcome", client.welcome
        yield client


async def until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until `condition()` holds (it reads state another thread changes), or fail."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
