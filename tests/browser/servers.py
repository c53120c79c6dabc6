"""Loopback servers the browser tests can stop, restart on the same port, or cut off.

`tests/support/live_server.serve` picks a new port each time; a browser client that reconnects
after a gateway restart needs the gateway back where it was, so this one keeps its port.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from tests.support.live_server import STOP_TIMEOUT, ServerThread, free_port, loopback_socket


class Restartable:
    """An ASGI app served by uvicorn in a thread on `127.0.0.1:port`, which may be stopped
    gracefully (uvicorn closes WebSockets with 1012), dropped (TCP connections aborted: the
    browser sees 1006), and started again, with the same app or another, on the same port."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self._running: ServerThread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, app: Any | None = None) -> None:
        """Serve `app` (default: the current one) until `stop()`."""
        if app is not None:
            self.app = app
        sock = loopback_socket(self.port)
        try:
            self._running = ServerThread.start(self.app, sock)
        except RuntimeError:
            sock.close()
            raise
        self._sock = sock

    def stop(self) -> None:
        """Shut down as a restarting server does: WebSockets get close code 1012."""
        running, sock = self._running, self._sock
        self._running = self._sock = None
        if running is None or sock is None:
            return
        running.stop()
        sock.close()

    def drop_connections(self) -> None:
        """Abort every open TCP connection without a close frame (a network cut: 1006)."""
        assert self._running is not None
        server = self._running.server
        assert server.loop is not None
        done = threading.Event()

        def abort() -> None:
            server.abort_connections()
            done.set()

        server.loop.call_soon_threadsafe(abort)
        assert done.wait(STOP_TIMEOUT)
