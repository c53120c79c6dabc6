"""Serving a `DemoApp` with uvicorn on the caller's event loop: the one-process demo, its manual
`serve_forever` mode and each app instance of the Redis demo all start it the same way."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn

from sock8.demo.app import DemoApp

__all__ = ["DemoServer", "StartError", "listen", "server_config", "serving"]


class StartError(RuntimeError):
    """A server or process of the demo did not start; the message says why."""


class DemoServer(uvicorn.Server):
    """uvicorn on the caller's event loop, reporting when it listens.

    Arguments:
        config: from `server_config`.
        signals: whether Ctrl-C stops it (uvicorn's handling); off for the scripted demo, which
            runs inside test processes too.
    """

    def __init__(self, config: uvicorn.Config, *, signals: bool) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self._signals = signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then report it."""
        await super().startup(sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's Ctrl-C handling when `signals` was asked for, none otherwise."""
        if self._signals:
            with super().capture_signals():
                yield
        else:
            yield


def server_config(app: DemoApp) -> uvicorn.Config:
    """uvicorn's settings for the demo app: quiet, lifespan on, no per-message deflate."""
    return uvicorn.Config(
        app.asgi,
        log_config=None,
        access_log=False,
        # What `sock8 gateway` does too: deflate costs memory per connection for small frames.
        ws_per_message_deflate=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` (0: a free port), for the app to be served on.

    It is bound before the app is built, so that the gateway URL the app hands out has the real
    port."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every keep-alive HTTP answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def serving(
    app: DemoApp, sock: socket.socket, *, name: str, timeout: float
) -> AsyncIterator[None]:
    """Serve `app` on `sock` (from `listen`) until the block ends, then stop it and close `sock`.

    Raises:
        StartError: it did not listen within `timeout` seconds; `name` says what did not.
    """
    server = DemoServer(server_config(app), signals=False)
    running = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait({ready, running}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if not server.ready.is_set() or not server.started:
            raise StartError(f"{name} did not start")
        yield
    finally:
        server.should_exit = True
        await asyncio.gather(running, return_exceptions=True)
        sock.close()
