"""Loopback servers the browser tests can stop, restart on the same port, or cut off.

`tests/support/live_server.serve` picks a new port each time; a browser client that reconnects
after a gateway restart needs the gateway back where it was, so this one keeps its port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def install_signal_handlers(self) -> None:  # pragma: no cover - uvicorn < 0.29
        pass

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)
        self.ready.set()


class Restartable:
    """An ASGI app served by uvicorn in a thread on `127.0.0.1:port`, which may be stopped
    gracefully (uvicorn closes WebSockets with 1012), dropped (TCP connections aborted: the
    browser sees 1006), and started again, with the same app or another, on the same port."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, app: Any | None = None) -> None:
        """Serve `app` (default: the current one) until `stop()`."""
        if app is not None:
            self.app = app
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            ws_per_message_deflate=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        server = _Server(config)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:
                failure.append(exc)
                server.ready.set()

        thread = threading.Thread(target=run, name=f"uvicorn-{self.port}", daemon=True)
        thread.start()
        if not server.ready.wait(START_TIMEOUT) or failure or not server.started:
            sock.close()
            raise RuntimeError(f"the test server did not start: {failure or 'timeout'}")
        self._server, self._thread, self._sock = server, thread, sock

    def stop(self) -> None:
        """Shut down as a restarting server does: WebSockets get close code 1012."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is None or thread is None or sock is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
        sock.close()

    def drop_connections(self) -> None:
        """Abort every open TCP connection without a close frame (a network cut: 1006)."""
        server = self._server
        assert server is not None
        assert server.loop is not None
        done = threading.Event()

        def abort() -> None:
            for connection in list(server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()
            done.set()

        server.loop.call_soon_threadsafe(abort)
        assert done.wait(STOP_TIMEOUT)
