"""What a session needs of the connection that carries it, whatever server carries the bytes.

A `Session` (sessions, grants, presence, refresh) exists once; a transport adapts one server to
it: `AsgiTransport` (gateway/transport_asgi.py) for `create_app` under any ASGI server, and
`PicowsConnection` (gateway/transport_picows.py) for the standalone `sock8 gateway`.

The transport calls the session (`Receiver`): each client text frame with `received`, `None`
for a binary one; `resume_writing` once its buffer has drained after `writable` went `False`;
`lost` once, when the connection is gone. The session calls the transport (`Transport`): it
writes frames without awaiting, reads how much is still buffered, pauses and resumes reading,
and ends the connection with `close`.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["HIGH_WATER", "Receiver", "Transport", "high_water"]


class Transport(Protocol):
    """One WebSocket connection, seen from its session. No method awaits."""

    @property
    def writable(self) -> bool:
        """Whether a frame written now goes out without piling up: `False` from when the
        buffer passes its high-water mark until `Receiver.resume_writing`."""

    def write(self, frame: bytes) -> None:
        """Send `frame` (UTF-8 JSON text) as a text message; the same bytes object may be
        written to every connection."""

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

    def resume_writing(self) -> None:
        """The transport's buffer drained after `writable` went `False`."""

    def lost(self) -> None:
        """The connection is gone (the peer closed or dropped it, or it was closed)."""


HIGH_WATER = 64 * 1024
"""A transport stops being `writable` past this many buffered bytes (or a quarter of the send
buffer, if less): from there on, frames wait in the session's outbox, where presence changes
merge, and the client's requests are not read."""


def high_water(send_buffer: int) -> int:
    """The high-water mark of a connection whose slow-consumer limit is `send_buffer`."""
    return max(1, min(HIGH_WATER, send_buffer // 4))
