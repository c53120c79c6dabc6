"""`sock8 gateway`'s front step over real sockets: each connection goes to picows (a WebSocket
upgrade on /connect) or to uvicorn's HTTP (anything else) by its request head, however the head
arrives; oversized heads are refused; keep-alive HTTP stays HTTP; on the raw stream, no frame
follows the gateway's close frame. And, on both servers: requests
that wait on the presence store keep their order, a message in fragments is one request, and a
server that stops closes its connections with 1012."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sock8.gateway import MemoryPresence
from sock8.gateway.frames import error
from sock8.gateway.presence import PresenceEntry
from sock8.gateway.server import HEAD_LIMIT
from websockets.frames import Frame, Opcode

from tests.gateway.harness import CHOICE, LOGS, ROOM, SERVERS, Setup, running
from tests.support.live_server import peer
from tests.support.ws_frames import ServerFrames

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0


@pytest.fixture
def standalone() -> Iterator[Setup]:
    """A gateway served as `sock8 gateway` serves it (whatever the module's parametrization)."""
    CHOICE.served_by = "standalone"
    with running() as setup:
        yield setup


def connect(setup: Setup) -> socket.socket:
    sock = socket.create_connection((setup.server.host, setup.server.port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (or none, then until EOF)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def upgrade_head(path: str = "/connect") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def client_frame(opcode: Opcode, data: bytes) -> bytes:
    return Frame(opcode, data).serialize(mask=True)


@contextlib.contextmanager
def authenticated(setup: Setup) -> Iterator[tuple[socket.socket, ServerFrames]]:
    """A WebSocket connection upgraded and authenticated by hand, past its `welcome`."""
    with connect(setup) as sock:
        sock.sendall(upgrade_head())
        status, _, rest = read_response(sock)
        assert status == 101
        frames = ServerFrames(rest, sock)
        auth = {"event": "auth", "token": setup.token("raw")}
        sock.sendall(client_frame(Opcode.TEXT, json.dumps(auth).encode()))
        welcome = frames.next()
        assert welcome is not None
        assert json.loads(bytes(welcome.data))["event"] == "welcome"
        yield sock, frames


def test_no_frame_follows_the_close_frame(standalone: Setup) -> None:
    # The hub writes messages to the socket itself while nothing waits for it: a session that
    # closes must stop that at once, or a message already on its way to the hub when the
    # session closed (its fan-out runs before the session leaves the hub) follows the close.
    with authenticated(standalone) as (sock, frames):
        [session] = standalone.gateway._sessions  # closed on its loop, as the gateway would

        def close_behind_a_delivery() -> None:
            standalone.publish(LOGS, "on its way")
            session.close(4400, error("bad_frame", "closed by the test"))

        standalone.server.loop.call_soon_threadsafe(close_behind_a_delivery)
        reason = frames.next()
        assert reason is not None
        assert json.loads(bytes(reason.data))["message"] == "closed by the test"
        close = frames.next()
        assert close is not None
        assert close.opcode is Opcode.CLOSE
        assert close.data[:2] == (4400).to_bytes(2, "big")
        sock.sendall(client_frame(Opcode.CLOSE, bytes(close.data[:2])))
        assert frames.next() is None


def test_no_frame_follows_picows_own_close_frame(standalone: Setup) -> None:
    # picows answers a protocol error (here an unmasked client frame) with a close frame of its
    # own and disconnects 10 ms later, without telling the connection: messages published
    # meanwhile must not be written to the socket behind that close frame.
    with authenticated(standalone) as (sock, frames):
        sock.sendall(Frame(Opcode.TEXT, b'{"event": "getPresence"}').serialize(mask=False))
        close = frames.next()
        assert close is not None
        assert close.opcode is Opcode.CLOSE
        assert close.data[:2] == (1002).to_bytes(2, "big")
        for n in range(50):
            standalone.publish(LOGS, n)
        assert frames.next() is None


def test_http_keep_alive_through_the_front_step(standalone: Setup) -> None:
    with connect(standalone) as sock:
        for _ in range(3):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status, _, body = read_response(sock)
            assert status == 200
            assert json.loads(body)["connections"] == 0


def test_a_head_in_pieces_is_gathered(standalone: Setup) -> None:
    body = json.dumps({"channel": ROOM, "payload": "hi", "persist": True}).encode()
    request = (
        b"POST /publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + standalone.publish_token().encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with connect(standalone) as sock:
        for index in range(0, len(request), 7):
            sock.sendall(request[index : index + 7])
        status, _, answer = read_response(sock)
    assert status == 202, answer
    page = standalone.broker.history(ROOM)
    assert [message.payload for message in page.messages] == ['"hi"']


def test_an_upgrade_in_pieces_reaches_the_websocket_server(standalone: Setup) -> None:
    head = upgrade_head()
    with connect(standalone) as sock:
        for index in range(0, len(head), 5):
            sock.sendall(head[index : index + 5])
        status, headers, _ = read_response(sock)
    assert status == 101
    assert headers["upgrade"].lower() == "websocket"


def test_an_upgrade_elsewhere_is_plain_http(standalone: Setup) -> None:
    with connect(standalone) as sock:
        sock.sendall(upgrade_head("/elsewhere"))
        status, _, _ = read_response(sock)
    assert status == 404


def test_an_oversized_head_is_refused_431(standalone: Setup) -> None:
    with connect(standalone) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: ")
        sock.sendall(b"a" * (HEAD_LIMIT + 10))
        status, headers, _ = read_response(sock)
        assert status == 431
        assert headers["connection"] == "close"
        sock.settimeout(TIMEOUT)
        assert sock.recv(1) == b""  # closed


class Slow(MemoryPresence):
    """A presence store that suspends, as one over the network does."""

    async def update(self, *args: Any, **kwargs: Any) -> PresenceEntry:
        for _ in range(3):
            await asyncio.sleep(0)
        return await super().update(*args, **kwargs)

    async def state(self, channel: str) -> dict[str, PresenceEntry]:
        await asyncio.sleep(0.001)
        return await super().state(channel)


@pytest.mark.parametrize("server", SERVERS)
async def test_requests_that_wait_on_the_store_keep_their_order(server: str) -> None:
    CHOICE.served_by = server
    with running(presence=Slow()) as setup:
        async with peer(setup.server.ws_url, setup.token()) as client:
            frames = []
            for index in range(20):
                frames.append({"event": "setPresence", "channel": ROOM, "data": {"n": index}})
                frames.append({"event": "getPresence", "channel": ROOM})
                frames.append({"event": "unsubscribe", "channel": ROOM})
                frames.append({"event": "subscribe", "channel": ROOM})
            for frame in frames:
                client.ws.protocol.send_text(json.dumps(frame).encode())
            client.ws.send_data()
            seen: list[int] = []
            while len(seen) < 20:
                reply = await client.recv()
                if reply["event"] == "presenceState":
                    seen.append(reply["state"]["u1"]["data"]["n"])
            # Each getPresence saw the setPresence sent just before it, not a later one.
            assert seen == list(range(20))


@pytest.mark.parametrize("server", SERVERS)
async def test_a_message_in_fragments_is_one_request(server: str) -> None:
    CHOICE.served_by = server
    with running(max_frame_bytes=2048) as setup:
        async with peer(setup.server.ws_url, setup.token()) as client:
            frame = json.dumps({"event": "subscribe", "channel": ROOM})
            await client.ws.send([frame[:5], frame[5:20], frame[20:]])
            assert await client.recv() == {"event": "subscribed", "channel": ROOM}
            await client.ws.send(["[" * 1000, "]" * 1000, " " * 100])
            code, seen = await client.closed()
    assert code == 4400
    assert seen[-1]["code"] == "bad_frame"
    assert "over 2048 bytes" in seen[-1]["message"]


@pytest.mark.parametrize("server", SERVERS)
async def test_a_server_that_stops_closes_1012(server: str) -> None:
    CHOICE.served_by = server
    with contextlib.ExitStack() as stack:
        setup = stack.enter_context(running())
        async with peer(setup.server.ws_url, setup.token()) as client:
            # Stopped from another thread: this loop keeps serving the client meanwhile.
            stopping = asyncio.ensure_future(asyncio.to_thread(stack.close))
            code, _ = await client.closed()
            await stopping
    assert code == 1012
