"""Gateway load over Redis: two gateway processes sharing a Redis against one in-memory process.

    .venv/bin/python benches/redis_load.py [--clients 1000] [--repeat 7] [--kinds all]

Every kind is the real command line, started fresh for each run on a free loopback port:

- `memory`: `sock8 gateway` (one process, the in-memory broker: no Redis);
- `redis`: `sock8 gateway --workers 2 --redis URL` (two processes on one port, hiredis parsing
  Redis' replies when it is installed, as `sock8[redis]` installs it);
- `redis-pyparser`: the same with hiredis hidden from redis-py, which then parses replies in
  pure Python (what a `redis` without the extra's hiredis does): the before/after of hiredis;
- `redis-1`, `redis-1-pyparser`: `sock8 gateway --redis URL`, one process: the cost of Redis
  without the split into two processes.

Before the load runs, the receive path alone: one `RedisBroker` subscribed to a channel in a
process of its own, `--receive` messages published to it from outside (pipelined), and that
process's CPU time per message received and handed to a (trivial) subscriber, with hiredis and
with redis-py's pure-Python parser. It is what each node pays per message on top of the
in-memory fan-out, whatever the number of clients.

The clients are the same for every kind: `benches/loadgen` (see benches/gateway_load.py, whose
orchestration this reuses), N WebSocket clients on the one port (the kernel hands each to a
worker), publishing with `POST /publish` to the same port. Figures per run:

- fan-out deliveries per second (about `--deliveries` 500,000, `--window` messages in flight);
- server CPU per delivery: the CPU time (`/proc/<pid>/stat`) of every gateway process (the
  workers and their parent) over the fan-out window, divided by the deliveries;
- Redis' own CPU per message and per delivery: redis-server's CPU time over the same window
  (one private `redis-server`, no persistence, shared by the runs and flushed between them);
- gateway + Redis CPU per delivery, the whole bill;
- delivery latency p50/p99 of messages published one at a time.

The table shows each kind's median over `--repeat` rounds (the kinds run back to back in each
round, so that a change in the machine's load hits all of them alike; Redis' CPU, a few clock
ticks per run, is pooled over the rounds) and each Redis kind's ratio to `memory`. The target:
Redis adds at most 20% server CPU per delivery, judged on the median of the per-round ratios
of `redis` to `memory` (at most 1.20).

Not collected by pytest (only `bench_*.py` and `test_*.py` are).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gateway_load import (
    LOADGEN,
    SECRET,
    _go,
    _read_step,
    add_load_arguments,
    cpu_seconds,
    load_options,
    loadgen_status,
    raise_fd_limit,
    stop,
    talking,
)
from sock8.demo.cluster import RedisProcess

KINDS = ("memory", "redis", "redis-pyparser", "redis-1", "redis-1-pyparser")
DEFAULT_KINDS = ("memory", "redis", "redis-pyparser", "redis-1")
TARGET = 1.20
"""Server CPU per delivery on Redis, at most this times the in-memory figure."""
START_TIMEOUT = 30.0
RECEIVE_CHANNEL = "bench.receive"

# `sock8 gateway` with hiredis hidden: redis-py checks for it at import and falls back to its
# pure-Python parser, as when hiredis is not installed.
PURE_PARSER = (
    "import sys; sys.modules['hiredis'] = None; "
    "from sock8.cli import main; sys.exit(main(sys.argv[1:]))"
)


@dataclass(frozen=True)
class Kind:
    """How one kind runs the gateway."""

    workers: int
    redis: bool
    hide_hiredis: bool = False


SPECS = {
    "memory": Kind(workers=1, redis=False),
    "redis": Kind(workers=2, redis=True),
    "redis-pyparser": Kind(workers=2, redis=True, hide_hiredis=True),
    "redis-1": Kind(workers=1, redis=True),
    "redis-1-pyparser": Kind(workers=1, redis=True, hide_hiredis=True),
}


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def gateway(kind: str, redis_url: str) -> Iterator[tuple[list[int], int]]:
    """The gateway of `kind` on a free port, once it answers `/health` with every worker up;
    its process ids (the parent first) and its port."""
    spec = SPECS[kind]
    port = free_port()
    options = ["gateway", "--port", str(port), "--log-level", "warning"]
    if spec.redis:
        options += ["--redis", redis_url, "--workers", str(spec.workers)]
    if spec.hide_hiredis:
        command = [sys.executable, "-c", PURE_PARSER, *options]
    else:
        command = [sys.executable, "-m", "sock8", *options]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, arguments from a fixed set
        command, env={**os.environ, "SOCK8_SECRET": SECRET}, stderr=subprocess.DEVNULL
    )
    # With --workers, the parent forks them and only waits: the gateways are its children.
    expected = spec.workers if spec.workers > 1 else 0
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            workers = children(process.pid) if expected else []
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                if answer.status_code == 200 and len(workers) == expected:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} gateway did not start")
            time.sleep(0.05)
        yield [process.pid, *workers], port
    finally:
        stop(process)


@contextlib.contextmanager
def load_generator(
    port: int, count: int, args: argparse.Namespace
) -> Iterator[subprocess.Popen[str]]:
    """benches/loadgen against `port`, talking line by line on stdin/stdout (as in
    benches/gateway_load.py), with `--deliveries` for the fan-out run: CPU times come in clock
    ticks (10 ms), so the window must be long enough for Redis' few ticks to count."""
    options = [*load_options(port, count, args), "--deliveries", str(args.deliveries)]
    with talking([str(LOADGEN), *options]) as process:
        yield process


def measure(kind: str, count: int, redis: RedisProcess, args: argparse.Namespace) -> dict[str, Any]:
    """One gateway of `kind`, one load generator with `count` connections."""
    import redis as redis_py

    with redis_py.Redis(host=redis.host, port=redis.port, protocol=2) as client:
        client.flushall()
    redis_pid = redis.process.pid
    with (
        gateway(kind, redis.url) as (pids, port),
        load_generator(port, count, args) as clients,
    ):
        _read_step(clients)  # idle
        _go(clients)
        _read_step(clients)  # connected
        _go(clients)
        _read_step(clients)  # fan-out: the latency run is over
        before = [cpu_seconds(pid) for pid in pids]
        redis_before = cpu_seconds(redis_pid)
        _go(clients)
        _read_step(clients)  # delivered: every message reached every client
        after = [cpu_seconds(pid) for pid in pids]
        redis_after = cpu_seconds(redis_pid)
        _go(clients)
        result = _read_step(clients)
        if result.get("step") != "done":
            raise RuntimeError(f"unexpected client output: {result}")
    messages = result["fan_out_messages"]
    deliveries = count * messages
    used = [end - start for start, end in zip(before, after, strict=True)]
    server = sum(used)
    redis_cpu = redis_after - redis_before
    result["server_cpu_us_per_delivery"] = server * 1e6 / deliveries
    result["redis_cpu_us_per_delivery"] = redis_cpu * 1e6 / deliveries
    result["redis_cpu_us_per_message"] = redis_cpu * 1e6 / messages
    result["redis_cpu_s"] = redis_cpu
    result["deliveries"] = deliveries
    result["total_cpu_us_per_delivery"] = (server + redis_cpu) * 1e6 / deliveries
    result["server_cores_busy"] = server / result["fan_out_seconds"]
    # How the fan-out's CPU split between the workers (the parent only waits): the kernel
    # hands each connection to whichever worker accepts first.
    result["worker_share"] = max(used[1:]) / server if len(used) > 2 and server else 1.0
    return result


def receiver_main(url: str, count: int, pure_parser: bool) -> None:
    """The receive path's process: subscribe, say `READY`, then print the CPU seconds spent
    until `count` messages were delivered."""
    if pure_parser:
        if "redis" in sys.modules:
            raise RuntimeError("redis-py was imported before hiredis could be hidden")
        sys.modules["hiredis"] = None  # type: ignore[assignment]
    import asyncio
    import resource

    from sock8.redis import RedisBroker

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    async def receive() -> float:
        broker = RedisBroker(url)
        await broker.start()
        done = asyncio.Event()
        received = 0

        def deliver(_message: object) -> None:
            nonlocal received
            received += 1
            if received == count:
                done.set()

        subscription = broker.subscribe(RECEIVE_CHANNEL, deliver)
        await subscription.ready()
        print("READY", flush=True)
        started = cpu()
        await asyncio.wait_for(done.wait(), START_TIMEOUT)
        used = cpu() - started
        subscription.close()
        await broker.stop()
        return used

    print(json.dumps({"cpu": asyncio.run(receive())}), flush=True)


def measure_receive(redis: RedisProcess, count: int, pure_parser: bool) -> float:
    """Microseconds of CPU per message of a broker's receive path (see the module)."""
    import redis as redis_py
    from sock8.redis.keys import Keys, message_event

    command = [sys.executable, __file__, "--receiver", redis.url, "--receive", str(count)]
    if pure_parser:
        command.append("--pure-parser")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "READY":
            raise RuntimeError("the receiver did not start")
        channel = Keys().channel(RECEIVE_CHANNEL)
        with redis_py.Redis(host=redis.host, port=redis.port, protocol=2) as client:
            for start in range(0, count, 1000):
                pipeline = client.pipeline(transaction=False)
                for seq in range(start, min(start + 1000, count)):
                    payload = json.dumps({"seq": seq, "t": time.time_ns()})
                    pipeline.publish(channel, message_event(int(time.time() * 1000), payload))
                pipeline.execute()
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the receiver failed (exit {process.wait()})")
        used: float = json.loads(line)["cpu"]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return used * 1e6 / count


def receive_table(redis: RedisProcess, count: int, repeat: int) -> str:
    """The receive path with hiredis and with the pure-Python parser, side by side."""
    runs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for pure_parser in (False, True):
            runs[pure_parser].append(measure_receive(redis, count, pure_parser))
    hiredis, pure = statistics.median(runs[False]), statistics.median(runs[True])
    each = " / ".join(f"{value:.1f}" for value in runs[False])
    each_pure = " / ".join(f"{value:.1f}" for value in runs[True])
    ratio = hiredis / pure
    return "\n".join(
        [
            f"| receive path, {count:,} messages | hiredis | pure-Python parser | ratio |",
            "|---|---|---|---|",
            f"| node CPU us / message (median) | {hiredis:.1f} | {pure:.1f} | {ratio:.2f}x |",
            f"| runs | {each} | {each_pure} | |",
        ]
    )


@dataclass(frozen=True)
class Row:
    """A line of the table."""

    label: str
    key: str
    fmt: str


ROWS = (
    Row("fan-out deliveries / s", "deliveries_per_s", "{:,.0f}"),
    Row("server CPU us / delivery (gateways)", "server_cpu_us_per_delivery", "{:.2f}"),
    Row("Redis CPU us / delivery", "redis_cpu_us_per_delivery", "{:.3f}"),
    Row("Redis CPU us / message", "redis_cpu_us_per_message", "{:.1f}"),
    Row("gateways + Redis CPU us / delivery", "total_cpu_us_per_delivery", "{:.2f}"),
    Row("server cores busy (fan-out)", "server_cores_busy", "{:.2f}"),
    Row("busiest worker's share of the CPU", "worker_share", "{:.2f}"),
    Row("delivery latency p50 (ms)", "p50_ms", "{:.2f}"),
    Row("delivery latency p99 (ms)", "p99_ms", "{:.2f}"),
)


def median(runs: list[dict[str, Any]], key: str) -> float:
    """The median of `key` over `runs`; Redis' CPU pooled over them instead: a run holds a few
    clock ticks of it, a median of so few would mostly show the tick."""
    if key == "redis_cpu_us_per_delivery":
        return float(sum(r["redis_cpu_s"] for r in runs) * 1e6 / sum(r["deliveries"] for r in runs))
    if key == "redis_cpu_us_per_message":
        messages = sum(r["fan_out_messages"] for r in runs)
        return float(sum(r["redis_cpu_s"] for r in runs) * 1e6 / messages)
    return float(statistics.median(run[key] for run in runs))


def table(results: dict[str, list[dict[str, Any]]], kinds: list[str], count: int) -> str:
    """One column per kind (medians), then each Redis kind's ratio to `memory`."""
    others = [kind for kind in kinds if kind != "memory"]
    compared = "memory" in kinds
    header = [f"metric @ {count:,} clients", *kinds]
    if compared:
        header += [f"{kind} / memory" for kind in others]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in ROWS:
        cells = [row.label]
        cells += [row.fmt.format(median(results[kind], row.key)) for kind in kinds]
        if compared:
            base = median(results["memory"], row.key)
            for kind in others:
                value = median(results[kind], row.key)
                cells.append(f"{value / base:.2f}x" if base else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(results: dict[str, list[dict[str, Any]]], kinds: list[str]) -> list[str]:
    """The target's lines: what each Redis kind adds to the server CPU per delivery, as the
    median of its per-round ratios to `memory` (the kinds of a round ran back to back, so a
    change in the machine's load between rounds cancels out)."""
    if "memory" not in kinds:
        return []
    key = "server_cpu_us_per_delivery"
    lines = []
    for kind in kinds:
        if kind == "memory":
            continue
        ratios = [
            run[key] / base[key] for run, base in zip(results[kind], results["memory"], strict=True)
        ]
        ratio = statistics.median(ratios)
        runs = " ".join(f"{value - 1:+.0%}" for value in ratios)
        met = "meets" if ratio <= TARGET else "MISSES"
        lines.append(
            f"{kind}: {ratio - 1:+.0%} server CPU per delivery over memory (median of the "
            f"rounds: {runs}); {met} the target of +{TARGET - 1:.0%}"
        )
    return lines


def hiredis_note() -> str:
    """Whether the `redis` kinds parse with hiredis."""
    try:
        import hiredis  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "hiredis: not installed (redis and redis-pyparser both parse in pure Python)"
    return f"hiredis {getattr(hiredis, '__version__', '?')}: redis uses it, redis-pyparser not"


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    add_load_arguments(parser, clients="1000")
    parser.add_argument(
        "--deliveries", type=int, default=500_000, help="deliveries of the fan-out run (about)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="rounds of every kind, per count")
    parser.add_argument(
        "--kinds",
        default=",".join(DEFAULT_KINDS),
        help=f"comma-separated kinds, or 'all': {', '.join(KINDS)}",
    )
    parser.add_argument(
        "--receive", type=int, default=50_000, help="messages of the receive-path run (0: skip)"
    )
    parser.add_argument("--receiver", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--pure-parser", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receiver:
        receiver_main(args.receiver, args.receive, args.pure_parser)
        return 0
    kinds = list(KINDS) if args.kinds == "all" else [k.strip() for k in args.kinds.split(",")]
    if unknown := [kind for kind in kinds if kind not in KINDS]:
        parser.error(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    if problem := loadgen_status():
        if not LOADGEN.is_file():
            print(f"redis load: {problem}", file=sys.stderr)
            return 1
        print(f"note: {problem}; using it as it is")
    counts = [int(part) for part in args.clients.split(",") if part.strip()]
    limit, capped = raise_fd_limit(max(counts) + 256)
    if capped:
        print(f"note: RLIMIT_NOFILE is capped at {limit}; {max(counts):,} clients may fail")
    print(
        f"redis load: {', '.join(kinds)}; load generator benches/loadgen (Rust, 1 thread); "
        f"{os.cpu_count()} cores shared by the gateways, redis-server and the generator; "
        f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}"
    )
    print(hiredis_note())
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="sock8-redis-bench-") as directory,
        RedisProcess.running(Path(directory), "127.0.0.1") as redis,
    ):
        if args.receive:
            print(f"  receive path: {args.receive:,} messages x {args.repeat} ...", flush=True)
            print()
            print(receive_table(redis, args.receive, args.repeat))
            print()
        for count in counts:
            results: dict[str, list[dict[str, Any]]] = {}
            for _ in range(args.repeat):
                for kind in kinds:
                    print(f"  {kind:<15} {count:>6,} clients ...", end="", flush=True)
                    t0 = time.perf_counter()
                    results.setdefault(kind, []).append(measure(kind, count, redis, args))
                    print(f" {time.perf_counter() - t0:.1f} s", flush=True)
            print()
            print(table(results, kinds, count))
            print()
            for line in verdict(results, kinds):
                print(line)
            print()
    print(
        f"medians of {args.repeat} runs per kind; server CPU = every gateway process (workers "
        f"and parent), Redis CPU = redis-server's; total {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
