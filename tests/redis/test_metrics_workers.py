"""`sock8 gateway --workers 2 --redis URL`: whichever worker answers `/metrics`, it reports every
worker's values (prometheus-client's multiprocess mode, on a directory the command creates and
removes)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sock8
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.harness import LOGS
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, free_port, peer, until
from tests.support.processes import stop
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio

TIMEOUT = 20.0
WORKERS = 2
CLIENTS = 8


@contextlib.contextmanager
def workers(redis_url: str, temporary: Path) -> Iterator[int]:
    """`sock8 gateway --workers 2` on a free port, its temporary files under `temporary`;
    stopped with SIGTERM (as a service manager does) at the end."""
    port = free_port()
    env = {**os.environ, "SOCK8_SECRET": SECRET, "TMPDIR": str(temporary)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = [sys.executable, "-m", "sock8", "gateway", "--port", str(port), "--redis", redis_url]
    argv += ["--workers", str(WORKERS), "--log-level", "warning"]
    process = subprocess.Popen(argv, env=env)  # noqa: S603 - our own arguments
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the gateway exited"
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)
        yield port
    finally:
        # SIGTERM first, as a service manager stops it.
        stop(process, TIMEOUT)


def scrape(port: int) -> dict[str, float]:
    # A new connection each time: the kernel hands it to either worker.
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT).text
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@contextlib.asynccontextmanager
async def clients(port: int) -> AsyncIterator[list[Peer]]:
    async with contextlib.AsyncExitStack() as stack:
        token = sock8.Signer(SECRET).sign("u", [LOGS])
        url = f"ws://127.0.0.1:{port}/connect"
        yield [await stack.enter_async_context(peer(url, token)) for _ in range(CLIENTS)]


async def test_every_worker_reports_the_sum_of_all(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with workers(redis_server.url, tmp_path) as port:
        [directory] = list(tmp_path.glob("sock8-metrics-*"))
        async with clients(port):
            for _ in range(10):
                samples = scrape(port)
                assert samples["sock8_connections[]"] == CLIENTS
                ok = "sock8_connects_total[('outcome', 'ok'), ('reason', '')]"
                assert samples[ok] == CLIENTS
        # Each worker writes its own files (named by its pid).
        pids = {path.stem.rpartition("_")[2] for path in directory.glob("counter_*.db")}
        assert len(pids) >= WORKERS
        await until(lambda: scrape(port)["sock8_connections[]"] == 0, timeout=TIMEOUT)
    assert not list(tmp_path.glob("sock8-metrics-*"))  # removed at the end
