"""`sock8 gateway --workers 2 --redis URL`: whichever worker answers `/metrics`, it reports every
worker's values (prometheus-client's multiprocess mode, on a directory the command creates and
removes)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sock8
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.harness import LOGS
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer, until
from tests.support.processes import workers
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio

TIMEOUT = 20.0
WORKERS = 2
CLIENTS = 8


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
    with workers(redis_server.url, WORKERS, env={"TMPDIR": str(tmp_path)}) as (_, port):
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
