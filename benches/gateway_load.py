"""Gateway load: the sock8 gateway against a plain Starlette WebSocket broadcast loop.

    .venv/bin/python benches/gateway_load.py [--clients 1000,5000] [--messages 20] [--client rust]

For each server and each client count, a fresh server process (uvicorn, one worker, the same
settings for both: no permessage-deflate, no access log) and a separate client process are
started. The client process, the load generator, opens the connections, authenticates them,
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
- the load generator's CPU per delivery and cores busy over the same window: a generator well
  below its one core was waiting for the server, so the fan-out figures are the server's.

The baseline is what an app writes without sock8: accept, answer the first frame with a
`welcome` (no token check), and `for ws in clients: await ws.send_text(frame)` on publish. The
sock8 gateway verifies each token in Rust, keeps per-connection queues, and fans out without
awaiting any client. Servers and the generator share the machine's cores, so the generator is
part of every number, equally for both.

Not collected by pytest (only `bench_*.py` and `test_*.py` are).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRET = "gateway-load-bench-secret-0123456789abcdef"
CHANNEL = "bench.all"
PUBLISH_AUDIENCE = "sock8:publish"
KINDS = ("sock8", "baseline")
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


def serve(kind: str) -> None:
    """Serve `kind` on a free loopback port; print `PORT <n>` once listening."""
    import uvicorn

    raise_fd_limit(1 << 20)
    app = sock8_app() if kind == "sock8" else baseline_app()
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every keep-alive HTTP answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        backlog=4096,
        timeout_graceful_shutdown=1,
        lifespan="on",
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

    asyncio.run(main())


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
        if not line.startswith("PORT "):
            raise RuntimeError(f"the {kind} server did not start: {line!r}")
        yield process, int(line.split()[1])
    finally:
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
    options = [
        "--port",
        str(port),
        "--count",
        str(count),
        "--messages",
        str(args.messages),
        "--window",
        str(args.window),
        "--concurrency",
        str(args.concurrency),
    ]
    if args.client == "rust":
        # Both sign with the secret from the environment, as `sock8 gateway` reads it.
        command = [str(LOADGEN), *options]
    else:
        command = [sys.executable, __file__, "--run-clients", kind, *options]
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
        _go(clients)
        _read_step(clients)  # fan-out: the latency run is over
        cpu_fan_out = cpu_seconds(server.pid)
        _go(clients)
        _read_step(clients)  # delivered: every message reached every client
        cpu_delivered = cpu_seconds(server.pid)
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
    Row("load generator CPU us / delivery", "client_cpu_us_per_delivery", 1, "{:.2f}", False),
    Row("load generator cores busy (fan-out)", "client_cores_busy", 1, "{:.2f}", False),
    Row("load generator KiB / connection", "client_bytes_per_conn", 1 / 1024, "{:.1f}", False),
)


def table(results: dict[tuple[str, int], dict[str, Any]], counts: list[int]) -> str:
    """The comparison table, as Markdown: sock8, baseline, and sock8/baseline per count."""
    header = ["metric"]
    for count in counts:
        header += [f"sock8 @ {count:,}", f"baseline @ {count:,}", "ratio"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in ROWS:
        cells = [row.label]
        for count in counts:
            ours = results[("sock8", count)][row.key] * row.scale
            theirs = results[("baseline", count)][row.key] * row.scale
            ratio = ours / theirs if theirs else float("inf")
            cells += [row.fmt.format(ours), row.fmt.format(theirs), f"{ratio:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line; run a server, a client process, or the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--clients", default="1000,5000", help="comma-separated client counts")
    parser.add_argument("--messages", type=int, default=20, help="messages for the latency run")
    parser.add_argument("--window", type=int, default=64, help="messages in flight (throughput)")
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="rust",
        help="load generator: benches/loadgen (Rust, default) or this script's Python client",
    )
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
        f"gateway load: uvicorn, 1 process per server, load generator {generator} in a separate "
        f"process, {os.cpu_count()} cores shared; fd limit {limit}; "
        f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}"
    )
    results: dict[tuple[str, int], dict[str, Any]] = {}
    started = time.perf_counter()
    for count in counts:
        for kind in KINDS:
            print(f"  {kind:<8} {count:>6,} clients ...", end="", flush=True)
            t0 = time.perf_counter()
            results[(kind, count)] = measure(kind, count, args)
            print(f" {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    print(table(results, counts))
    print()
    print(
        "ratio = sock8 / baseline (higher is better for rates, lower for latency and memory); "
        f"total {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
