"""Gateway load: the sock8 gateway against a plain Starlette WebSocket broadcast loop.

    .venv/bin/python benches/gateway_load.py [--clients 1000,5000] [--messages 20] [--client rust]
    .venv/bin/python benches/gateway_load.py --kinds all [--repeat 2]    # candidate stacks

For each server and each client count, a fresh server process (one process, the same settings
for all: no permessage-deflate, no access log; `sock8` is `sock8 gateway`'s own server, picows
behind the front step with uvicorn for HTTP, the others uvicorn's) and a separate client process
are started. The client process, the load generator, opens the connections, authenticates them,
then publishes over HTTP while it receives. It is `benches/loadgen` (Rust, tokio-tungstenite,
one thread; `cargo build --release --manifest-path benches/loadgen/Cargo.toml`, which `make
bench` runs) unless `--client python` asks for the Python one below (`websockets`, deflate off),
which spends about 20 us of CPU a frame, as much as the servers do: it is the ceiling, and the
fan-out figures measure it. Both sign real tokens (sock8's core) and report:

- connect+auth rate: connections opened and answered with `welcome` per second, at most
  `--concurrency` handshakes in flight;
- memory per idle connection: the server process's RSS (`/proc/<pid>/status`) after all
  connections are open minus before, divided by the count; the client process's likewise;
- latency: `--messages` messages published one at a time, each once the previous one reached
  every client; a message carries its publish time (`time.time_ns()`, one machine, one clock),
  each client's receive time minus that is a sample; p50 and p99 over all samples;
- fan-out deliveries per second: about 100,000 deliveries, published back to back on one HTTP
  connection with at most `--window` messages not yet delivered everywhere, counted until all
  arrived;
- server CPU per delivery: the server process's CPU time (`/proc/<pid>/stat`) over that fan-out
  window divided by the deliveries, read before any client closes (closing is not delivery);
  its cores busy: that CPU time over the window's wall time (one uvicorn process: at most 1);
- GC pauses: the longest collection of the server's cyclic garbage collector and how many ran,
  from the first latency broadcast to the last delivery (`gc.callbacks` in the server);
- the load generator's CPU per delivery and cores busy over the same window: a generator well
  below its one core was waiting for the server, so the fan-out figures are the server's.

The baseline is what an app writes without sock8: accept, answer the first frame with a
`welcome` (no token check), and `for ws in clients: await ws.send_text(frame)` on publish. The
sock8 gateway verifies each token in Rust, keeps per-connection queues, and fans out without
awaiting any client. Servers and the generator share the machine's cores, so the generator is
part of every number, equally for both.

`--kinds` chooses the servers (choose the delivery stack by measurement). `sock8` is the
standalone `sock8 gateway` (picows for /connect behind the front step, uvicorn for HTTP, asyncio's
loop), `baseline` the Starlette loop under uvicorn; besides them:

- `sock8-asgi`: `create_app` under uvicorn's own WebSocket protocol (the mountable ASGI path);

- `sock8-uvloop`, `baseline-uvloop`: the same apps, uvicorn on uvloop (the ASGI path, faster loop);
- `sock8-granian`, `baseline-granian`: the same apps under Granian's embedded ASGI server (Rust
  HTTP/WebSocket, one runtime thread, in the server process; asyncio's loop);
- `websockets`, `websockets-uvloop`: `websockets.asyncio.server.serve` and its `broadcast()`,
  which writes a frame to every connection's transport without awaiting any;
- `picows`, `picows-uvloop`: picows (Cython WebSocket protocol), `WSTransport.send` per connection,
  on the loop's own transports (`loop.create_server`, not its optional aiofastnet transport).

The websockets and picows servers are WebSocket-only; a `Dispatch` protocol in front of theirs
tells `POST /publish` from an upgrade by its first byte and answers publishes itself, on the same
port and event loop, so the load generator is the same for every kind. Every kind but `sock8*`
is a naive broadcaster (no token check, no per-connection queue): its column is the transport's
own cost per delivery. With more than the two default kinds, one table per client count is
printed, one column per kind, a cell listing each run's figure (`--repeat`).

Not collected by pytest (only `bench_*.py` and `test_*.py` are).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

SECRET = "gateway-load-bench-secret-0123456789abcdef"
CHANNEL = "bench.all"
PUBLISH_AUDIENCE = "sock8:publish"
KINDS = (
    "sock8",
    "baseline",
    "sock8-asgi",
    "sock8-uvloop",
    "baseline-uvloop",
    "sock8-granian",
    "baseline-granian",
    "websockets",
    "websockets-uvloop",
    "picows",
    "picows-uvloop",
)
DEFAULT_KINDS = ("sock8", "baseline")
CLIENTS = ("rust", "python")
LOADGEN_DIR = Path(__file__).resolve().parent / "loadgen"
LOADGEN = LOADGEN_DIR / "target" / "release" / "sock8-loadgen"
BUILD_LOADGEN = "cargo build --release --manifest-path benches/loadgen/Cargo.toml"


# Resource limits


def raise_fd_limit(wanted: int) -> tuple[int, bool]:
    """Raise RLIMIT_NOFILE's soft limit towards `wanted` (at most the hard limit).

    Returns:
        the soft limit now, and whether it is below `wanted` (capped by the hard limit).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft, soft != resource.RLIM_INFINITY and soft < wanted


def cpu_seconds(pid: int | str = "self") -> float:
    """User plus system CPU time of a process, from `/proc/<pid>/stat`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This process's user plus system CPU time (`getrusage`: microseconds, not clock ticks)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from `/proc/<pid>/status`."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# Servers (run in their own process)


def baseline_app() -> Any:
    """A plain Starlette WebSocket broadcast loop: the baseline."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    clients: set[WebSocket] = set()

    async def connect(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()  # the auth frame; the baseline checks nothing
        await websocket.send_text(json.dumps({"event": "welcome", "channels": [CHANNEL]}))
        clients.add(websocket)
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            clients.discard(websocket)

    async def publish(request: Request) -> JSONResponse:
        body = await request.json()
        frame = json.dumps({"channel": body["channel"], "payload": body["payload"]})
        for websocket in list(clients):
            with contextlib.suppress(Exception):
                await websocket.send_text(frame)
        return JSONResponse({"ok": True}, status_code=202)

    return Starlette(
        routes=[WebSocketRoute("/connect", connect), Route("/publish", publish, methods=["POST"])]
    )


def sock8_app() -> Any:
    """The sock8 gateway, on its own (as `sock8 gateway` runs it)."""
    from sock8.gateway import create_app

    return create_app(secret=SECRET)


def listening_socket() -> socket.socket:
    """A loopback socket on a free port, bound, not yet listening."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every keep-alive HTTP answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class GcPauses:
    """The cyclic collector's pauses in a server process (`gc.callbacks`), reported on stdout as
    `GC <longest ms> <collections>` on SIGUSR1, which also starts a new count."""

    def __init__(self) -> None:
        self.started = 0.0
        self.longest = 0.0
        self.count = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        self.longest = max(self.longest, time.perf_counter() - self.started)
        self.count += 1

    def report(self, signum: int, frame: object) -> None:
        print(f"GC {self.longest * 1e3:.3f} {self.count}", flush=True)
        self.longest, self.count = 0.0, 0

    def install(self) -> None:
        gc.callbacks.append(self)
        signal.signal(signal.SIGUSR1, self.report)


def gc_pauses(process: subprocess.Popen[str]) -> tuple[float, int]:
    """Ask a server for its GC pauses since the last ask: the longest (ms) and how many."""
    assert process.stdout is not None
    process.send_signal(signal.SIGUSR1)
    line = process.stdout.readline()
    while line and not line.startswith("GC "):
        line = process.stdout.readline()
    _, longest, count = line.split()
    return float(longest), int(count)


def serve(kind: str) -> None:
    """Serve `kind` on a free loopback port; print `PORT <n>` once listening."""
    raise_fd_limit(1 << 20)
    GcPauses().install()
    base, _, loop = kind.partition("-")
    sock = listening_socket()
    if base == "websockets" or base == "picows":
        if loop == "uvloop":
            import uvloop

            class Loop(uvloop.Loop):  # type: ignore[misc,unused-ignore]  # Any without the bench group
                """uvloop's loop, with a `__dict__` (`dispatching` sets an attribute)."""

            factory: Callable[[], asyncio.AbstractEventLoop] = Loop
        else:
            factory = asyncio.new_event_loop
        sock.listen(4096)
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(serve_websockets(sock) if base == "websockets" else serve_picows(sock))
        return

    import uvicorn

    app = sock8_app() if base == "sock8" else baseline_app()
    extra: dict[str, Any] = {}
    if base == "sock8" and loop == "":
        # The standalone `sock8 gateway`: picows for /connect behind the front step.
        from sock8.gateway.server import front_protocol

        # Pings as `sock8 gateway` does by default (picows runs a task per connection for it).
        front = front_protocol(app.state.gateway, ping_interval=20.0, ping_timeout=20.0)
        extra = {"http": front, "ws": "none"}
        gc.freeze()
    elif loop == "asgi":
        loop = ""
    if loop == "granian":
        serve_granian(app, sock)
        return
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        backlog=4096,
        timeout_graceful_shutdown=1,
        lifespan="on",
        # Explicit: uvicorn's "auto" would take uvloop whenever it is installed.
        loop=loop or "asyncio",
        **extra,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.01)
        print(f"PORT {sock.getsockname()[1]}", flush=True)
        await task

    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def serve_granian(app: Any, sock: socket.socket) -> None:
    """`app` under Granian's embedded ASGI server (Rust HTTP and WebSocket, one runtime thread,
    in this process, so that its CPU is this process's)."""
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server

    # Granian binds its own socket: the free port is taken from ours, then ours is closed.
    port = sock.getsockname()[1]
    sock.close()
    server = Server(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        log_level=LogLevels.warning,
        backlog=4096,
    )

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while True:
            if task.done():
                await task
                return
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            break
        print(f"PORT {port}", flush=True)
        await task

    asyncio.run(main())


# Naive broadcasters outside ASGI (`--kinds`): the transport's own cost per delivery


WELCOME = json.dumps({"event": "welcome", "channels": [CHANNEL]})
PUBLISHED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    b'{"ok":true}'
)


def publish_frame(body: bytes) -> str:
    """The frame for a `POST /publish` body, built as the baseline builds it."""
    message = json.loads(body)
    return json.dumps({"channel": message["channel"], "payload": message["payload"]})


class PublishProtocol(asyncio.Protocol):
    """`POST /publish` over keep-alive HTTP/1.1, the least the load generator needs.

    Requests carry a `Content-Length`; each is answered `202 {"ok":true}`, in order. No token is
    checked (as the baseline).
    """

    def __init__(self, broadcast: Callable[[str], None]) -> None:
        self.broadcast = broadcast
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not `asyncio.Transport` subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self.broadcast(publish_frame(body))
            self.transport.write(PUBLISHED)


class Dispatch(asyncio.Protocol):
    """Tells a publish (`POST`) from a WebSocket upgrade by the first bytes, as the Rust
    self-test broadcaster does, and hands the connection to the protocol that serves it.

    WebSocket-only servers (websockets, picows) get `POST /publish` on the same port this way,
    so the load generator is the same for every kind.
    """

    def __init__(
        self, websocket: Callable[[], asyncio.BaseProtocol], broadcast: Callable[[str], None]
    ) -> None:
        self.websocket = websocket
        self.broadcast = broadcast
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not `asyncio.Transport` subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        protocol: asyncio.BaseProtocol
        protocol = PublishProtocol(self.broadcast) if data.startswith(b"P") else self.websocket()
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if isinstance(protocol, asyncio.BufferedProtocol):
            offset = 0
            while offset < len(data):
                buffer = memoryview(protocol.get_buffer(len(data) - offset))
                taken = min(len(buffer), len(data) - offset)
                buffer[:taken] = data[offset : offset + taken]
                protocol.buffer_updated(taken)
                offset += taken
        else:
            assert isinstance(protocol, asyncio.Protocol)
            protocol.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        pass


@contextlib.contextmanager
def dispatching(
    loop: asyncio.AbstractEventLoop, broadcast: Callable[[str], None]
) -> Iterator[None]:
    """Within it, `loop.create_server(factory, ...)` serves `factory` behind a `Dispatch`.

    websockets and picows build their protocol factories inside their `serve` functions and hand
    them to `loop.create_server`; this is where `POST /publish` can be slipped in front.
    """
    create_server = loop.create_server

    async def create_dispatching_server(
        factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any
    ) -> asyncio.Server:
        return await create_server(lambda: Dispatch(factory, broadcast), *args, **kwargs)

    setattr(loop, "create_server", create_dispatching_server)  # noqa: B010 - an instance override
    try:
        yield
    finally:
        delattr(loop, "create_server")


async def serve_websockets(sock: socket.socket) -> None:
    """`websockets.asyncio.server.serve` and its `broadcast()`: frames written to every
    connection's transport without awaiting it."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    clients: set[ServerConnection] = set()

    async def handler(websocket: ServerConnection) -> None:
        await websocket.recv()  # the auth frame; nothing is checked
        await websocket.send(WELCOME)
        clients.add(websocket)
        try:
            async for _ in websocket:
                pass
        except ConnectionClosed:
            pass
        finally:
            clients.discard(websocket)

    with dispatching(asyncio.get_running_loop(), lambda frame: broadcast(clients, frame)):
        server = await serve(
            handler, sock=sock, compression=None, max_queue=None, ping_interval=None, backlog=4096
        )
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    await server.serve_forever()


async def serve_picows(sock: socket.socket) -> None:
    """picows (Cython): a listener per connection, `WSTransport.send` writes without awaiting."""
    from picows import (
        WSFrame,
        WSListener,
        WSMsgType,
        WSTransport,
        WSUpgradeRequest,
        ws_create_server,
    )

    clients: set[WSTransport] = set()
    welcome = WELCOME.encode()

    class Listener(WSListener):  # type: ignore[misc,unused-ignore]  # Any without the bench group
        welcomed = False

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            elif frame.msg_type == WSMsgType.TEXT and not self.welcomed:
                self.welcomed = True  # the auth frame; nothing is checked
                transport.send(WSMsgType.TEXT, welcome)
                clients.add(transport)

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            clients.discard(transport)

    def listener(request: WSUpgradeRequest) -> Listener:
        return Listener()

    def broadcast(frame: str) -> None:
        data = frame.encode()
        for transport in clients:
            transport.send(WSMsgType.TEXT, data)

    with dispatching(asyncio.get_running_loop(), broadcast):
        server = await ws_create_server(listener, sock=sock, backlog=4096, use_aiofastnet=False)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    await server.serve_forever()


# Clients (run in their own process)


@dataclass
class Tally:
    """Deliveries counted by message sequence number."""

    clients: int
    counts: dict[int, int]
    complete: int = 0
    """How many messages (in order) reached every client."""
    latencies_ns: list[int] | None = None
    changed: asyncio.Event | None = None

    def record(self, seq: int, sent_ns: int, now_ns: int) -> None:
        """One delivery of message `seq`."""
        count = self.counts.get(seq, 0) + 1
        self.counts[seq] = count
        if self.latencies_ns is not None:
            self.latencies_ns.append(now_ns - sent_ns)
        if count == self.clients:
            while self.counts.get(self.complete, 0) == self.clients:
                self.complete += 1
            assert self.changed is not None
            self.changed.set()

    async def wait_complete(self, upto: int, timeout: float) -> None:
        """Wait until messages `0..upto-1` reached every client."""
        assert self.changed is not None
        async with asyncio.timeout(timeout):
            while self.complete < upto:
                self.changed.clear()
                await self.changed.wait()


def percentile(samples: list[int], fraction: float) -> float:
    """The nearest-rank percentile of `samples`."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return float(ordered[index])


async def run_clients(
    kind: str, port: int, count: int, messages: int, window: int, concurrency: int
) -> dict[str, Any]:
    """Open `count` connections, measure, and return the figures (see the module docstring)."""
    import httpx
    import sock8
    from websockets.asyncio.client import ClientConnection, connect

    ws_url = f"ws://127.0.0.1:{port}/connect"
    signer = sock8.Signer(SECRET, ttl=3600)
    publish_token = sock8.Signer(SECRET, audience=PUBLISH_AUDIENCE, ttl=3600).sign("bench", [])
    tally = Tally(count, {}, changed=asyncio.Event())
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []

    async def reader(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = time.time_ns()
                frame = json.loads(raw)
                payload = frame.get("payload")
                if isinstance(payload, dict):
                    tally.record(payload["seq"], payload["t"], now)

    async def open_one(index: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            ws = await connect(ws_url, compression=None, open_timeout=60, max_queue=None)
            token = signer.sign(f"user-{index}", [CHANNEL])
            await ws.send(json.dumps({"event": "auth", "token": token}))
            welcome = json.loads(await ws.recv())
            if welcome.get("event") != "welcome":
                raise RuntimeError(f"connection {index} refused: {welcome}")
            sockets.append(ws)
            readers.append(asyncio.create_task(reader(ws)))

    def step(name: str, **figures: Any) -> None:
        # The orchestrator reads the server's RSS between steps, then says "go".
        print(json.dumps({"step": name, **figures}), flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("the orchestrator went away")

    # Warm-up: code paths and buffers that the first connections allocate once.
    gate = asyncio.Semaphore(concurrency)
    await asyncio.gather(*(open_one(-index - 1, gate) for index in range(20)))
    for ws in sockets:
        await ws.close()
    await asyncio.gather(*readers)
    sockets.clear()
    readers.clear()
    client_before = rss_bytes()
    step("idle")

    started = time.perf_counter()
    await asyncio.gather(*(open_one(index, gate) for index in range(count)))
    connect_seconds = time.perf_counter() - started
    client_after = rss_bytes()
    step("connected", connect_seconds=connect_seconds)

    async def publish(http: httpx.AsyncClient, seq: int) -> None:
        body = {"channel": CHANNEL, "payload": {"seq": seq, "t": time.time_ns()}}
        response = await http.post("/publish", json=body)
        response.raise_for_status()

    headers = {"Authorization": f"Bearer {publish_token}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120
    ) as http:
        # Latency: one message at a time.
        tally.latencies_ns = []
        for seq in range(messages):
            await publish(http, seq)
            await tally.wait_complete(seq + 1, timeout=120)
        latencies = tally.latencies_ns
        tally.latencies_ns = None

        # Throughput: back-to-back publishes on one connection, as a publisher does, with at
        # most `window` messages not yet delivered everywhere (below the gateway's send queue
        # of 256 frames, so that no benchmark client is closed as a slow consumer).
        first = messages
        total = max(10, 100_000 // count)
        step("fan-out")
        cpu_before = own_cpu_seconds()
        started = time.perf_counter()
        for seq in range(first, first + total):
            while seq - tally.complete >= window:
                await tally.wait_complete(tally.complete + 1, timeout=120)
            await publish(http, seq)
        await tally.wait_complete(first + total, timeout=300)
        fan_out_seconds = time.perf_counter() - started
        client_cpu = own_cpu_seconds() - cpu_before
    # The server's CPU is read here, before the clients close: closing costs the server about
    # 0.25 ms a connection, which is not delivery work.
    step("delivered")

    for ws in sockets:
        await ws.close()
    await asyncio.gather(*readers)
    return {
        "step": "done",
        "client": "python",
        "connect_rate": count / connect_seconds,
        "client_bytes_per_conn": (client_after - client_before) / count,
        "p50_ms": percentile(latencies, 0.50) / 1e6,
        "p99_ms": percentile(latencies, 0.99) / 1e6,
        "deliveries_per_s": count * total / fan_out_seconds,
        "fan_out_messages": total,
        "fan_out_seconds": fan_out_seconds,
        "client_cpu_us_per_delivery": client_cpu * 1e6 / (count * total),
        "client_cores_busy": client_cpu / fan_out_seconds,
    }


def clients_main(args: argparse.Namespace) -> None:
    """The client process: run and print the figures as one JSON line."""
    raise_fd_limit(args.count + 256)
    result = asyncio.run(
        run_clients(args.kind, args.port, args.count, args.messages, args.window, args.concurrency)
    )
    print(json.dumps(result), flush=True)


# Orchestration


@contextlib.contextmanager
def server_process(kind: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A server subprocess and its port."""
    # Our own interpreter and script, with arguments from a fixed set.
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--serve", kind],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith("PORT "):
            line = process.stdout.readline()  # what a server logs to stdout (Granian does)
        if not line.startswith("PORT "):
            raise RuntimeError(f"the {kind} server did not start: {line!r}")
        yield process, int(line.split()[1])
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM `process`; SIGKILL it when it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def loadgen_status() -> str | None:
    """Why the Rust load generator cannot be used as built, or `None` when it can."""
    if not LOADGEN.is_file():
        return f"the Rust load generator is not built ({BUILD_LOADGEN})"
    sources = [LOADGEN_DIR / "Cargo.toml", LOADGEN_DIR / "Cargo.lock"]
    sources += (LOADGEN_DIR / "src").glob("*.rs")
    built = LOADGEN.stat().st_mtime
    if any(source.stat().st_mtime > built for source in sources if source.exists()):
        return f"the Rust load generator is older than its sources ({BUILD_LOADGEN})"
    return None


@contextlib.contextmanager
def client_process(
    kind: str, port: int, count: int, args: argparse.Namespace
) -> Iterator[subprocess.Popen[str]]:
    """A client subprocess (the load generator), talking line by line on stdin/stdout."""
    options = load_options(port, count, args)
    if args.client == "rust":
        # Both sign with the secret from the environment, as `sock8 gateway` reads it.
        command = [str(LOADGEN), *options]
    else:
        command = [sys.executable, __file__, "--run-clients", kind, *options]
    with talking(command) as process:
        yield process


@contextlib.contextmanager
def talking(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    """`command` (a client process) run with the secret in its environment, talking line by
    line on stdin/stdout; killed at the end if it still runs."""
    process = subprocess.Popen(  # noqa: S603 - our own programs, arguments from a fixed set
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SOCK8_SECRET": SECRET},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _read_step(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the client process failed (exit {process.wait()})")
    result: dict[str, Any] = json.loads(line)
    return result


def _go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def measure(kind: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """One server process, one client process, `count` connections."""
    with server_process(kind) as (server, port), client_process(kind, port, count, args) as clients:
        _read_step(clients)  # idle
        server_before, cpu_idle = rss_bytes(server.pid), cpu_seconds(server.pid)
        _go(clients)
        _read_step(clients)  # connected
        server_after, cpu_connected = rss_bytes(server.pid), cpu_seconds(server.pid)
        gc_pauses(server)  # a new count: the broadcasts start
        _go(clients)
        _read_step(clients)  # fan-out: the latency run is over
        cpu_fan_out = cpu_seconds(server.pid)
        _go(clients)
        _read_step(clients)  # delivered: every message reached every client
        cpu_delivered = cpu_seconds(server.pid)
        longest_pause, collections = gc_pauses(server)
        _go(clients)
        result = _read_step(clients)
        if result.get("step") != "done":
            raise RuntimeError(f"unexpected client output: {result}")
    result["server_bytes_per_conn"] = (server_after - server_before) / count
    # CPU time is what a shared, noisy machine distorts least: the server's own work per item.
    result["server_cpu_ms_per_connect"] = (cpu_connected - cpu_idle) * 1e3 / count
    deliveries = count * result["fan_out_messages"]
    result["server_cpu_us_per_delivery"] = (cpu_delivered - cpu_fan_out) * 1e6 / deliveries
    result["server_cores_busy"] = (cpu_delivered - cpu_fan_out) / result["fan_out_seconds"]
    result["gc_longest_ms"] = longest_pause
    result["gc_collections"] = collections
    return result


@dataclass(frozen=True)
class Row:
    """A line of the comparison table."""

    label: str
    key: str
    scale: float
    fmt: str
    higher_is_better: bool


ROWS = (
    Row("connect+auth / s", "connect_rate", 1, "{:,.0f}", True),
    Row("fan-out deliveries / s", "deliveries_per_s", 1, "{:,.0f}", True),
    Row("delivery latency p50 (ms)", "p50_ms", 1, "{:.2f}", False),
    Row("delivery latency p99 (ms)", "p99_ms", 1, "{:.2f}", False),
    Row("server CPU ms / connect+auth", "server_cpu_ms_per_connect", 1, "{:.2f}", False),
    Row("server CPU us / delivery", "server_cpu_us_per_delivery", 1, "{:.1f}", False),
    Row("server cores busy (fan-out)", "server_cores_busy", 1, "{:.2f}", False),
    Row("server KiB / idle connection", "server_bytes_per_conn", 1 / 1024, "{:.1f}", False),
    Row("longest GC pause, broadcasts (ms)", "gc_longest_ms", 1, "{:.1f}", False),
    Row("GC collections, broadcasts", "gc_collections", 1, "{:.0f}", False),
    Row("load generator CPU us / delivery", "client_cpu_us_per_delivery", 1, "{:.2f}", False),
    Row("load generator cores busy (fan-out)", "client_cores_busy", 1, "{:.2f}", False),
    Row("load generator KiB / connection", "client_bytes_per_conn", 1 / 1024, "{:.1f}", False),
)


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return float(sum(run[key] for run in runs)) / len(runs)


def table(results: dict[tuple[str, int], list[dict[str, Any]]], counts: list[int]) -> str:
    """The comparison table, as Markdown: sock8, baseline, and sock8/baseline per count."""
    header = ["metric"]
    for count in counts:
        header += [f"sock8 @ {count:,}", f"baseline @ {count:,}", "ratio"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in ROWS:
        cells = [row.label]
        for count in counts:
            ours = _mean(results[("sock8", count)], row.key) * row.scale
            theirs = _mean(results[("baseline", count)], row.key) * row.scale
            ratio = f"{ours / theirs:.2f}x" if theirs else "-"
            cells += [row.fmt.format(ours), row.fmt.format(theirs), ratio]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stacks_table(
    results: dict[tuple[str, int], list[dict[str, Any]]], kinds: list[str], count: int
) -> str:
    """One column per server kind at `count` connections; a cell holds every run's figure."""
    header = [f"metric @ {count:,} connections", *kinds]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in ROWS:
        cells = [row.label]
        for kind in kinds:
            runs = results[(kind, count)]
            cells.append(" / ".join(row.fmt.format(run[row.key] * row.scale) for run in runs))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_options(port: int, count: int, args: argparse.Namespace) -> list[str]:
    """The load generator's options for `count` clients of `port` (`add_load_arguments`)."""
    return [
        *("--port", str(port), "--count", str(count), "--messages", str(args.messages)),
        *("--window", str(args.window), "--concurrency", str(args.concurrency)),
    ]


def add_load_arguments(parser: argparse.ArgumentParser, clients: str) -> None:
    """The options of both load benches that go to the load generator; `clients`: the default
    client counts."""
    parser.add_argument("--clients", default=clients, help="comma-separated client counts")
    parser.add_argument("--messages", type=int, default=20, help="messages for the latency run")
    parser.add_argument("--window", type=int, default=64, help="messages in flight (throughput)")
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line; run a server, a client process, or the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    add_load_arguments(parser, clients="1000,5000")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="rust",
        help="load generator: benches/loadgen (Rust, default) or this script's Python client",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(DEFAULT_KINDS),
        help=f"comma-separated servers, or 'all': {', '.join(KINDS)}",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each server and count")
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--run-clients", choices=KINDS, dest="kind", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if args.kind:
        clients_main(args)
        return 0

    counts = [int(part) for part in args.clients.split(",") if part.strip()]
    kinds = list(KINDS) if args.kinds == "all" else [k.strip() for k in args.kinds.split(",")]
    if unknown := [kind for kind in kinds if kind not in KINDS]:
        parser.error(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    if args.client == "rust" and (problem := loadgen_status()):
        if LOADGEN.is_file():
            print(f"note: {problem}; using it as it is")
        else:
            print(
                f"note: {problem}; falling back to --client python, which spends as much CPU "
                "a frame as the servers do: the fan-out figures then measure the client"
            )
            args.client = "python"
    limit, capped = raise_fd_limit(max(counts) + 256)
    if capped:
        print(
            f"note: RLIMIT_NOFILE is capped at {limit} by the hard limit; "
            f"{max(counts):,} connections may fail (raise it with `ulimit -Hn`)"
        )
    generator = "benches/loadgen (Rust, 1 thread)" if args.client == "rust" else "Python"
    print(
        f"gateway load: {', '.join(kinds)}; 1 process per server, load generator {generator} in a "
        f"separate process, {os.cpu_count()} cores shared; fd limit {limit}; "
        f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}"
    )
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for _ in range(args.repeat):
        for count in counts:
            for kind in kinds:
                print(f"  {kind:<17} {count:>6,} clients ...", end="", flush=True)
                t0 = time.perf_counter()
                results.setdefault((kind, count), []).append(measure(kind, count, args))
                print(f" {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    if kinds == list(DEFAULT_KINDS):
        print(table(results, counts))
        print()
        print(
            "ratio = sock8 / baseline (higher is better for rates, lower for latency and memory); "
            f"total {time.perf_counter() - started:.0f} s"
        )
        return 0
    for count in counts:
        print(stacks_table(results, kinds, count))
        print()
    print(
        "Every kind but sock8* is a naive broadcaster (no token check, no queues): its column is "
        "the transport's own cost per delivery. A cell lists each run's figure "
        f"(--repeat {args.repeat}); total {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
