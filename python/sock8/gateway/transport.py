"""What a session needs of the connection that carries it, whatever server carries the bytes.

A `Session` (sessions, grants, presence, refresh) exists once; a transport adapts one server to
it: `AsgiTransport` (gateway/transport_asgi.py) for `create_app` under any ASGI server, and
`PicowsConnection` (gateway/transport_picows.py) for the standalone `sock8 gateway`.

The transport calls the session (`Receiver`): each client text frame with `received`, `None`
for a binary one; `buffering` when its buffer starts holding bytes, and `resume_writing` once it
has drained after `writable` went `False`; `lost` once, when the connection is gone. The session
calls the transport (`Transport`): it writes frames without awaiting, reads how much is still
buffered, pauses and resumes reading, and ends the connection with `close`.

A transport may also expose its socket (`socket_fd`): the hub then writes a message's frame,
built once (`text_frame`), to every such socket itself, with one `os.write` and no Python call
of the session's or the server's, for as long as nothing waits in the transport's buffer (the
session tracks that with `buffering` and `resume_writing`); what the socket does not take is
handed to the transport, behind what it was written after (`write_framed`).
"""

from __future__ import annotations

from typing import Protocol

from websockets.frames import Frame, Opcode

__all__ = ["HIGH_WATER", "Receiver", "Transport", "high_water", "text_frame"]


class Transport(Protocol):
    """One WebSocket connection, seen from its session. No method awaits."""

    @property
    def writable(self) -> bool:
        """Whether a frame written now goes out without piling up: `False` from when the
        buffer passes its high-water mark until `Receiver.resume_writing`."""

    @property
    def socket_fd(self) -> int:
        """The connection's socket, for frames written to it directly while nothing waits in
        the transport (from `Receiver.resume_writing`, or the start, until `Receiver.buffering`);
        `-1` once the connection is closing, and when it cannot be: TLS, a server that keeps
        its socket to itself (ASGI), or a system that is not POSIX."""

    def write(self, frame: bytes) -> None:
        """Send `frame` (UTF-8 JSON text) as a text message; the same bytes object may be
        written to every connection."""

    def write_framed(self, data: bytes | memoryview) -> None:
        """Send bytes that are already WebSocket frames (the rest of a frame written to
        `socket_fd` in part) behind everything written before; never dropped."""

    def buffered(self) -> int:
        """Bytes written and not yet handed to the socket (as far as the server tells)."""

    def pause_reading(self) -> None:
        """Stop delivering client frames until `resume_reading` (idempotent)."""

    def resume_reading(self) -> None:
        """Deliver client frames again (idempotent)."""

    def close(self, code: int, frame: bytes | None) -> None:
        """Send `frame` (an error), then the close `code`, behind what is buffered, and
        disconnect; a peer that does not take them is dropped within the close timeout."""

    def abort(self) -> None:
        """Drop the connection now (the client is gone, or the session ended without a code)."""


class Receiver(Protocol):
    """What a transport calls on its session."""

    def received(self, text: str | None) -> None:
        """One client message: its text, or `None` for a binary (or non-UTF-8) message."""

    def buffering(self) -> None:
        """The transport's buffer holds bytes the socket has not taken, or the connection is
        closing: a frame written to `Transport.socket_fd` now would overtake them or follow
        the close, so none is until `resume_writing`."""

    def resume_writing(self) -> None:
        """The transport's buffer drained after `writable` went `False` (or `buffering`)."""

    def lost(self) -> None:
        """The connection is gone (the peer closed or dropped it, or it was closed)."""


HIGH_WATER = 64 * 1024
"""The ASGI transport stops being `writable` past this many queued bytes (or a quarter of the
send buffer, if less): from there on, frames wait in the session's outbox, where presence
changes merge, and the client's requests are not read. (picows' transport stops at the first
byte asyncio buffers, so that nothing waits while the hub writes to its socket.)"""


def high_water(send_buffer: int) -> int:
    """The high-water mark of a connection whose slow-consumer limit is `send_buffer`."""
    return max(1, min(HIGH_WATER, send_buffer // 4))


def text_frame(payload: bytes) -> bytes:
    """`payload` as one unmasked, final text frame, as a server sends it: the bytes written
    to every socket the hub writes to itself. websockets frames it (no framing of our own)."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)
