"""The hub writing a message's frame to subscribers' sockets itself (`Sink.direct_fd`), over real
socket pairs: every socket gets the same single text frame, what a socket does not take goes to
its sink behind what it took, a socket that takes nothing (full, or closed) gets the message
through `offer`, and a resumed subscriber of a channel nobody persists to is written to directly
again."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator, Sequence

import sock8
from sock8.gateway.hub import Hub, Sink
from sock8.gateway.outbox import PresenceChange
from sock8.gateway.recovery import Hold
from sock8.publisher import Position
from websockets.frames import Opcode

from tests.support.ws_frames import parse_frames

CHANNEL = "room.r1"


class DirectSink:
    """A subscriber that offers the hub its socket, as a `Session` of the standalone gateway
    does while nothing waits; `write_rest` stops that, as the transport's buffering does."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.direct_fd = -1
        if sock is not None:
            sock.setblocking(False)  # as asyncio's sockets are
            self.direct_fd = sock.fileno()
        self.rests: list[bytes] = []
        self.offered: list[bytes] = []

    def write_rest(self, data: memoryview) -> None:
        self.rests.append(bytes(data))
        self.direct_fd = -1

    def offer(self, frame: bytes) -> None:
        self.offered.append(frame)

    def offer_presence(self, change: PresenceChange) -> None:
        self.offered.append(change.frame)


@contextlib.contextmanager
def socket_pairs(
    count: int, send_buffer: int | None = None
) -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    """`count` connected (writer, reader) pairs; the writers' send buffers set when given."""
    pairs = [socket.socketpair() for _ in range(count)]
    try:
        for writer, _ in pairs:
            if send_buffer is not None:
                writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        yield pairs
    finally:
        for writer, reader in pairs:
            writer.close()
            reader.close()


def received(sock: socket.socket) -> bytes:
    """Everything `sock` has received so far."""
    sock.setblocking(False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := sock.recv(1 << 20):
            data += chunk
    return data


def deliver(sinks: Sequence[Sink], payloads: list[str], hold_at: Position | None = None) -> None:
    """Subscribe `sinks` to `CHANNEL` on a hub over a memory broker, optionally hold and resume
    the first at `hold_at` (as a `subscribe` with `since` does), then publish `payloads`."""
    broker = sock8.MemoryBroker()

    async def main() -> None:
        hub = Hub(broker, asyncio.get_running_loop())
        for sink in sinks:
            hub.add(CHANNEL, sink)
        if hold_at is not None:
            Hold(hub, sinks[0], [CHANNEL]).release(CHANNEL, hold_at)
        for payload in payloads:
            broker.publish(CHANNEL, payload)
        await asyncio.sleep(0)  # the broker delivers on the loop

    asyncio.run(main())


def test_every_offered_socket_gets_the_same_single_text_frame() -> None:
    with socket_pairs(3) as pairs:
        sinks = [DirectSink(writer) for writer, _ in pairs]
        queued = DirectSink(None)  # something waits there: its messages queue behind it
        deliver([*sinks, queued], ['{"n":1}', '"two"'])
        # The sink without a socket got the frames' payloads; every socket the same frames.
        assert len(queued.offered) == 2
        for sink, (_, reader) in zip(sinks, pairs, strict=True):
            got = parse_frames(received(reader))
            assert [(frame.opcode, frame.fin, frame.data) for frame in got] == [
                (Opcode.TEXT, True, payload) for payload in queued.offered
            ]
            assert sink.offered == sink.rests == []


def test_what_a_socket_does_not_take_goes_to_its_sink_behind_it() -> None:
    big = '"' + "x" * 600_000 + '"'
    with socket_pairs(1, send_buffer=4096) as [(writer, reader)]:
        sink = DirectSink(writer)
        deliver([sink], [big, '"after"'])
        taken = received(reader)
        # Part of the frame went to the socket, the rest to the sink: together, the frame.
        assert taken
        assert len(sink.rests) == 1
        [frame] = parse_frames(taken + sink.rests[0])
        assert frame.opcode is Opcode.TEXT
        assert bytes(frame.data).endswith(b'"payload":' + big.encode() + b"}")
        # From then on the socket is not offered: the next message waits its turn.
        assert len(sink.offered) == 1
        assert sink.offered[0].endswith(b'"payload":"after"}')


def test_a_full_or_closed_socket_gets_the_message_through_offer() -> None:
    with socket_pairs(2, send_buffer=4096) as [(full, _), (closed, gone)]:
        full.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                full.send(b"\0" * 512)
        gone.close()
        sinks = [DirectSink(full), DirectSink(closed)]
        deliver(sinks, ['"one"'])
        for sink in sinks:
            assert len(sink.offered) == 1
            assert b'"one"' in sink.offered[0]
            assert sink.rests == []


def test_a_subscriber_resumed_where_nothing_was_numbered_is_written_to_directly() -> None:
    # Resumed at offset 0 (nothing persisted yet), no message on its way can repeat one the
    # history gave: the subscriber is untapped at once, and the next message, numbered or not,
    # goes to its socket rather than through a tap to `offer`.
    with socket_pairs(1) as [(writer, reader)]:
        sink = DirectSink(writer)
        deliver([sink], ['"live"'], hold_at=Position(0, "some-epoch"))
        assert sink.offered == []
        [frame] = parse_frames(received(reader))
        assert bytes(frame.data).endswith(b'"payload":"live"}')
