"""Fan-out under load, over real sockets: a slow consumer is cut off with 4008 while everyone
else keeps receiving; hundreds of clients get every message over one broker subscription; and
connection churn (including abrupt drops) releases every per-connection structure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator

import pytest
from sock8.gateway import MemoryPresence
from sock8.gateway.app import Gateway

from tests.gateway.harness import LOGS, ROOM, Setup, serving
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def running(send_queue_size: int) -> Iterator[Setup]:
    """A gateway on the system clock, with send queues of `send_queue_size` frames."""
    gateway = Gateway(secret=SECRET, send_queue_size=send_queue_size, close_timeout=10)
    with serving(gateway) as setup:
        yield setup


@pytest.fixture
def short_queues() -> Iterator[Setup]:
    """A gateway whose send queues hold 4 frames, so that a slow consumer shows quickly."""
    with running(send_queue_size=4) as ready:
        yield ready


@pytest.fixture
def roomy() -> Iterator[Setup]:
    """A gateway with the default send queues: 30 clients' presence updates, each sent to all
    30, must not overflow a client that the loaded test machine is slow to schedule."""
    with running(send_queue_size=256) as ready:
        yield ready


def tiny_receive_buffer() -> socket.socket:
    """A connected client socket that buffers little, so that a client that stops reading
    pushes back on the gateway after a few frames rather than megabytes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


async def test_a_slow_consumer_is_closed_4008_and_nobody_else_waits(short_queues: Setup) -> None:
    setup = short_queues
    pad = "x" * 16_384
    url = setup.server.ws_url
    sock = tiny_receive_buffer()
    sock.connect(("127.0.0.1", setup.server.port))
    # max_queue=1: the client library stops reading from the socket after one frame.
    slow_peer = peer(url, setup.token("slow"), sock=sock, max_queue=1)
    async with slow_peer as slow, peer(url, setup.token("good")) as good:
        sent = 0
        while setup.gateway.stats.slow_consumers == 0:
            assert sent < 5_000, "the slow consumer was never detected"
            setup.broker.publish(LOGS, json.dumps({"n": sent, "pad": pad}))
            # The good client reads each message before the next is published: its queue of
            # 4 never fills, whatever the slow one does.
            assert (await good.recv())["payload"]["n"] == sent
            sent += 1
        for _ in range(20):
            setup.broker.publish(LOGS, json.dumps({"n": sent, "pad": pad}))
            assert (await good.recv())["payload"]["n"] == sent
            sent += 1
        assert setup.gateway.stats.slow_consumers == 1
        # Now the slow client reads what reached it, then the error and the close.
        code, frames = await slow.closed()
        assert code == 4008
        assert frames[-1] == {
            "event": "error",
            "code": "slow_consumer",
            "message": "the send queue overflowed; messages were lost",
        }
        received = [frame["payload"]["n"] for frame in frames[:-1]]
        # At-most-once: a prefix arrived in order, the rest was dropped.
        assert received == list(range(len(received)))
        assert len(received) < sent
        await until(lambda: setup.gateway.stats.connections == 1)


async def receive_all(client: Peer, count: int) -> list[int]:
    return [(await client.recv())["payload"] for _ in range(count)]


async def test_hundreds_of_clients_receive_every_message(roomy: Setup) -> None:
    setup = roomy
    clients_count, messages = 200, 50
    async with contextlib.AsyncExitStack() as stack:
        clients = await asyncio.gather(
            *(
                stack.enter_async_context(peer(setup.server.ws_url, setup.token(f"u{index}")))
                for index in range(clients_count)
            )
        )
        assert setup.gateway.stats.connections == clients_count
        # One broker subscription per channel for the whole gateway, not one per connection.
        assert setup.broker.subscriber_count(LOGS) == 1
        assert setup.broker.subscriber_count(ROOM) == 1
        receivers = [asyncio.create_task(receive_all(client, messages)) for client in clients]
        for index in range(messages):
            setup.broker.publish(LOGS, str(index))
        results = await asyncio.gather(*receivers)
        assert results == [list(range(messages))] * clients_count
        assert setup.gateway.stats.slow_consumers == 0
    await until(lambda: setup.gateway.stats.connections == 0)
    assert setup.broker.subscriber_count(LOGS) == 0


async def test_churn_releases_everything(roomy: Setup) -> None:
    setup = roomy
    presence = setup.gateway.presence
    assert isinstance(presence, MemoryPresence)

    async def visit(index: int) -> None:
        async with peer(setup.server.ws_url, setup.token(f"u{index % 7}")) as client:
            await client.send(event="setPresence", channel=ROOM, data={"n": index})
            while (await client.recv()).get("event") != "presenceUpdate":
                pass
            if index % 3 == 0:
                # Gone without a closing handshake, as a dropped network would.
                client.ws.transport.abort()

    for _ in range(3):
        await asyncio.gather(*(visit(index) for index in range(30)))
    await until(lambda: setup.gateway.stats.connections == 0)
    await until(lambda: len(presence) == 0)
    assert setup.broker.subscriber_count(LOGS) == 0
    assert setup.broker.subscriber_count(ROOM) == 0
