"""Server WebSocket frames as the tests read them: off raw bytes, parsed by websockets rather
than by hand, or through a `Peer` (its next message's payload)."""

from __future__ import annotations

import socket
from typing import Any

from websockets.frames import Frame
from websockets.streams import StreamReader

from tests.support.live_server import Peer


class ServerFrames:
    """The (unmasked) server frames of `data`, then of whatever `sock` receives after it.

    Without `sock` the stream ends with `data`. A stream that ends inside a frame fails the test.
    """

    def __init__(self, data: bytes, sock: socket.socket | None = None) -> None:
        self.sock = sock
        self.reader = StreamReader()
        self.reader.feed_data(data)

    def next(self) -> Frame | None:
        """The next frame, or `None` once the stream has ended between frames."""
        while not self.reader.buffer:
            if not self._receive():
                return None
        parser = Frame.parse(self.reader.read_exact, mask=False)
        while True:
            try:
                next(parser)
            except StopIteration as done:
                frame: Frame = done.value
                return frame
            except EOFError as ended:
                raise AssertionError(f"the stream ended inside a frame: {ended}") from None
            self._receive()

    def _receive(self) -> bool:
        """Feed the reader what the socket receives next; `False` once the stream has ended."""
        if self.reader.eof:
            return False
        data = self.sock.recv(65536) if self.sock is not None else b""
        if data:
            self.reader.feed_data(data)
        else:
            self.reader.feed_eof()
        return bool(data)


def parse_frames(data: bytes) -> list[Frame]:
    """`data` parsed as server frames; every byte must belong to a whole one."""
    frames = ServerFrames(data)
    parsed = []
    while (frame := frames.next()) is not None:
        parsed.append(frame)
    return parsed


async def payload(client: Peer) -> Any:
    """The payload of `client`'s next frame, which must be a message."""
    frame = await client.recv()
    assert "payload" in frame, frame
    return frame["payload"]
