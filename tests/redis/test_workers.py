"""`sock8 gateway --workers 2 --redis URL`: two processes on one port are one gateway. Clients
land on both workers (each worker subscribes a channel in Redis only while it has local
subscribers, so `PUBSUB NUMSUB` = 2 says both have some); one publish reaches every subscriber
exactly once; a worker killed with SIGKILL takes only its own connections down, and the other
worker keeps serving the port and delivering."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import sock8
import websockets

from tests.gateway.harness import LOGS
from tests.redis.nodes import KEYS, held
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, free_port, peer
from tests.support.processes import children, stop
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio

START_TIMEOUT = 30.0
MAX_CLIENTS = 200
"""Clients connected at most while waiting for both workers to have some."""


@contextlib.contextmanager
def workers(redis_url: str, count: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`python -m sock8 gateway --workers N --redis URL` on a free port, once `/health` answers
    and every worker process is forked; the process and its port."""
    port = free_port()
    argv = [sys.executable, "-m", "sock8", "gateway", "--port", str(port)]
    argv += ["--workers", str(count), "--redis", redis_url, "--log-level", "warning"]
    process = subprocess.Popen(  # noqa: S603 - our own arguments
        argv, env={**os.environ, "SOCK8_SECRET": SECRET}, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                if answer.status_code == 200 and len(children(process.pid)) == count:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sock8 gateway --workers {count} did not start")
            time.sleep(0.05)
        yield process, port
    finally:
        stop(process)


def token(identity: str) -> str:
    return sock8.Signer(SECRET).sign(identity, [LOGS])


async def publish(port: int, payload: str) -> None:
    signer = sock8.Signer(SECRET, audience="sock8:publish", ttl=60)
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"http://127.0.0.1:{port}/publish",
            json={"channel": LOGS, "payload": payload},
            headers={"Authorization": f"Bearer {signer.sign('publisher', [])}"},
        )
    assert answer.status_code == 202, answer.text


async def next_payload(client: Peer) -> object:
    frame = await client.recv()
    assert frame.get("channel") == LOGS, frame
    return frame["payload"]


async def test_two_workers_on_one_port_deliver_each_publish_once_and_survive_a_kill(
    redis_server: RedisServer,
) -> None:
    redis_channel = KEYS.channel(LOGS)
    with workers(redis_server.url, 2) as (process, port):
        url = f"ws://127.0.0.1:{port}/connect"
        async with contextlib.AsyncExitStack() as stack:
            clients: list[Peer] = []
            # The welcome comes once the worker's Redis subscription is confirmed: NUMSUB is
            # current after each connect.
            while redis_server.numsub(redis_channel) < 2:
                assert len(clients) < MAX_CLIENTS, "every connection went to one worker"
                name = f"user{len(clients)}"
                clients.append(await stack.enter_async_context(peer(url, token(name))))
            clients.append(await stack.enter_async_context(peer(url, token("last"))))
            assert redis_server.numsub(redis_channel) == 2

            await publish(port, "one")
            await publish(port, "two")
            # Each client's next two frames are "one" then "two": a duplicate of "one" (a
            # message delivered through both workers) would come before "two".
            for client in clients:
                assert [await next_payload(client), await next_payload(client)] == ["one", "two"]

            pids = children(process.pid)
            assert len(pids) == 2
            os.kill(pids[0], signal.SIGKILL)
            await held(redis_server, LOGS, nodes=1)  # Redis dropped the dead worker's socket
            await publish(port, "three")  # the port is still served, by the survivor
            survivors, lost = 0, 0
            for client in clients:
                try:
                    payload = await next_payload(client)
                except websockets.ConnectionClosed:
                    lost += 1
                else:
                    assert payload == "three"
                    survivors += 1
            assert survivors >= 1
            assert lost >= 1
            assert survivors + lost == len(clients)
