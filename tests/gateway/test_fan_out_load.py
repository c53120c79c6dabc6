"""Fan-out under load, over real sockets: a slow consumer is cut off with 4008 while everyone
else keeps receiving, and what it leaves unsent stays within the byte limit; a client that
reads slowly gets every message whole and in order; a client that sends
a burst of requests while it reads gets every reply; hundreds of clients get every message over
one broker subscription; and connection churn (including abrupt drops) releases every
per-connection structure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator

import pytest
from sock8._gateway_defaults import SEND_BUFFER
from sock8.gateway import MemoryPresence
from sock8.gateway.app import Gateway
from sock8.gateway.session import Session

from tests.gateway.harness import LOGS, ROOM, Setup, both_servers, serving
from tests.gateway.harness import running as running_manually
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET

pytestmark = [pytest.mark.anyio, both_servers]

SHORT = 64 * 1024
"""The `send_buffer` of the `short_queues` gateway."""


@contextlib.contextmanager
def running(send_buffer: int = SEND_BUFFER) -> Iterator[Setup]:
    """A gateway on the system clock, with `send_buffer` per connection."""
    gateway = Gateway(secret=SECRET, close_timeout=10, send_buffer=send_buffer)
    with serving(gateway) as setup:
        yield setup


@pytest.fixture
def short_queues() -> Iterator[Setup]:
    """A gateway whose connections may leave 64 KiB unsent, so that a slow consumer shows
    quickly."""
    with running(send_buffer=SHORT) as ready:
        yield ready


@pytest.fixture
def roomy() -> Iterator[Setup]:
    """A gateway with the default send buffer: 30 clients' presence updates, each sent to all
    30, must not overflow a client that the loaded test machine is slow to schedule."""
    with running() as ready:
        yield ready


def tiny_receive_buffer() -> socket.socket:
    """A connected client socket that buffers little, so that a client that stops reading
    pushes back on the gateway after a few frames rather than megabytes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


def sessions(setup: Setup) -> dict[str, Session]:
    """The gateway's open sessions, by identity."""
    found = setup.gateway._sessions  # the queues' accounting is read
    return {session.grants.identity: session for session in found if session.grants is not None}


def unsent(session: Session) -> int:
    """What `session` has not handed to the socket: its outbox and its transport's buffer."""
    return session.pending


async def test_a_slow_consumer_is_closed_4008_and_nobody_else_waits(
    short_queues: Setup, served_by: str
) -> None:
    setup = short_queues
    # Under an ASGI server, frames go out while the server's own write buffer (uvicorn's,
    # 64 KiB) is below its high-water mark: that buffer may come on top of the limit.
    bound = SHORT if served_by == "standalone" else SHORT + 64 * 1024 + 16_500
    pad = "x" * 16_384
    url = setup.server.ws_url
    sock = tiny_receive_buffer()
    sock.connect(("127.0.0.1", setup.server.port))
    # max_queue=1: the client library stops reading from the socket after one frame.
    slow_peer = peer(url, setup.token("slow"), sock=sock, max_queue=1)
    async with slow_peer as slow, peer(url, setup.token("good")) as good:
        sent = 0
        slow_session = sessions(setup)["slow"]
        most = 0
        while setup.gateway.stats.slow_consumers == 0:
            assert sent < 5_000, "the slow consumer was never detected"
            setup.broker.publish(LOGS, json.dumps({"n": sent, "pad": pad}))
            # The good client reads each message before the next is published: its 64 KiB are
            # never used up, whatever the slow one does.
            assert (await good.recv())["payload"]["n"] == sent
            sent += 1
            most = max(most, unsent(slow_session))
        # The slow one's queue held at most the limit (a 16 KiB message did not fit: over),
        # and was dropped when it was found slow; only the error and the close were added.
        assert 0 < most <= bound
        assert unsent(slow_session) <= bound + 200
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


async def test_a_client_that_reads_slowly_gets_every_message_whole_and_in_order(
    served_by: str,
) -> None:
    # Bursts of 4.5 MB, more than the kernel buffers for a socket, to a client that buffers
    # 4 KiB, each published while the client is halfway through the one before: on the
    # standalone server, the hub's writes to the socket are cut short and their rests buffered,
    # the next messages queued, and the socket offered to the hub again once everything is
    # sent, while more comes. Nothing may be cut or reordered.
    standalone = served_by == "standalone"
    with running(send_buffer=64 * 1024 * 1024) as setup:
        sock = tiny_receive_buffer()
        sock.connect(("127.0.0.1", setup.server.port))
        async with peer(setup.server.ws_url, setup.token("slow"), sock=sock) as slow:
            session = sessions(setup)["slow"]
            assert (session.direct_fd >= 0) is standalone
            pad, burst, total = "y" * 30_000, 150, 1500

            def publish(first: int) -> None:
                for n in range(first, first + burst):
                    setup.broker.publish(LOGS, json.dumps({"n": n, "pad": pad}))

            publish(0)
            for n in range(total):
                if n % burst == burst // 2 and n + burst < total:
                    publish(n - n % burst + burst)
                assert (await slow.recv())["payload"] == {"n": n, "pad": pad}
            await until(lambda: (session.direct_fd >= 0) is standalone)
            assert setup.gateway.stats.slow_consumers == 0


async def test_replies_to_a_burst_of_requests_never_close_a_client_that_reads() -> None:
    # 2,000 replies (~100 KB) are far more than the 16 KiB this client may leave unsent: the
    # gateway stops reading its requests while the replies wait, instead of queueing them all.
    with running_manually(request_burst=5_000, send_buffer=16 * 1024) as setup:
        async with peer(setup.server.ws_url, setup.token()) as client:
            count = 2_000
            request = json.dumps({"event": "subscribe", "channel": ROOM}).encode()
            # All in one write, so that the server reads them in a few chunks and hands the
            # frames of each to the gateway without yielding to the connection's writer.
            for _ in range(count):
                client.ws.protocol.send_text(request)
            client.ws.send_data()
            replies = [await client.recv() for _ in range(count)]
            assert replies == [{"event": "subscribed", "channel": ROOM}] * count
            assert setup.gateway.stats.slow_consumers == 0
            assert setup.gateway.stats.rate_limited == 0
            setup.publish(LOGS, "still here")
            assert await client.recv() == {"channel": LOGS, "payload": "still here"}


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
