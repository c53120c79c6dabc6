"""A plain HTTP server on loopback that records what it receives and answers as told.

    from tests.support.http_recorder import recorder

    with recorder(status=307, headers={"Location": "http://elsewhere/"}) as server:
        ...  # requests to server.url("/publish")
        assert server.requests == [...]

It runs `http.server` in a background thread on `127.0.0.1` and a port the kernel picked; the
`with` block starts once it listens and stops it (joining the thread) when it ends. No sleeps:
each request is recorded before its answer is written, so a client that got its answer can
read the record.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    authorization: str | None
    body: bytes


@dataclass
class Recorder:
    """A running recorder.

    Attributes:
        port: the port the kernel chose.
        requests: every request received, in order.
    """

    port: int
    requests: list[Recorded] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """`base_url + path`; `path` starts with `/`."""
        return self.base_url + path


@contextlib.contextmanager
def recorder(
    *, status: int = 202, headers: dict[str, str] | None = None, body: bytes = b'{"ok":true}'
) -> Iterator[Recorder]:
    """Serve on loopback, answering every request with `status`, `headers` and `body`."""
    lock = threading.Lock()
    recorded: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            content = self.rfile.read(length) if length else b""
            with lock:
                recorded.append(
                    Recorded(self.command, self.path, self.headers.get("Authorization"), content)
                )
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer  # http.server dispatches on these names

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the records are what tests look at

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # A short poll interval: `shutdown()` waits for the serving loop to look again.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="http-recorder", daemon=True
    )
    thread.start()
    state = Recorder(int(server.server_address[1]))
    state.requests = recorded
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
