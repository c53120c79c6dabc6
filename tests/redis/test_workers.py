"""`sock8 gateway --workers 2 --redis URL`: two processes on one port are one gateway. Clients
land on both workers (each worker subscribes a channel in Redis only while it has local
subscribers, so `PUBSUB NUMSUB` = 2 says both have some); one publish reaches every subscriber
exactly once; a worker killed with SIGKILL takes only its own connections down, and the other
worker keeps serving the port and delivering."""

from __future__ import annotations

import contextlib
import os
import signal

import httpx
import pytest
import sock8
import websockets

from tests.gateway.harness import LOGS
from tests.redis.nodes import KEYS, held
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer
from tests.support.processes import children, workers
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio

MAX_CLIENTS = 200
"""Clients connected at most while waiting for both workers to have some."""


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
