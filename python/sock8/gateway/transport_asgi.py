"""`AsgiTransport`: a session's connection through an ASGI server (`create_app`, mountable in
any ASGI app).

ASGI sends by awaiting, so writes go to a small queue that one writer task drains with the
server's `send`; `writable` turns `False` once the queue passes the high-water mark, and back
once it falls below a quarter of it (the server's `send` waits while its own buffer is full, so
the queue grows then). What counts against the slow-consumer limit is the queue plus the
server's write buffer, when it can be read (uvicorn's).
The ASGI task itself reads, one frame at a time, and stops while reading is paused: some
servers (uvicorn) hand over buffered frames without yielding, and the session must be able to
stop them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from sock8.gateway.transport import Receiver

__all__ = ["AsgiTransport"]

logger = logging.getLogger("sock8.gateway")


def _write_buffer(websocket: WebSocket) -> Callable[[], int] | None:
    """How to read the server's write buffer of this connection, if the ASGI server lets it.

    Not part of ASGI: uvicorn's protocols (websockets, websockets-sansio, wsproto) give the app a
    bound method of the protocol as `send`, and the protocol holds its asyncio transport;
    Starlette wraps `send` in closures. Elsewhere, `None`: only the queue counts.
    """
    pending: list[object] = [websocket._send]  # Starlette keeps no public one
    for _ in range(8):
        if not pending:
            break
        send = pending.pop()
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        size = getattr(transport, "get_write_buffer_size", None)
        if callable(size):
            return size  # type: ignore[no-any-return]
        for cell in getattr(send, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                if callable(cell.cell_contents):
                    pending.append(cell.cell_contents)
    return None


class AsgiTransport:
    """One ASGI WebSocket connection as a `Transport`; `serve` runs it.

    Arguments:
        websocket: Starlette's connection, not yet accepted.
        high_water: `writable` turns `False` past this many buffered bytes.
        close_timeout: seconds to spend sending what is queued, the error and the close.
    """

    __slots__ = (
        "_close",
        "_close_timeout",
        "_done",
        "_gone",
        "_high",
        "_low",
        "_paused",
        "_queue",
        "_queued",
        "_reading",
        "_server_buffer",
        "_wake",
        "_websocket",
        "writable",
    )

    socket_fd = -1
    """See `Transport.socket_fd`: the ASGI server keeps its socket."""

    def __init__(self, websocket: WebSocket, high_water: int, close_timeout: float) -> None:
        self._websocket = websocket
        self._high = high_water
        self._low = high_water // 4
        self._close_timeout = close_timeout
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._server_buffer: Callable[[], int] | None = None
        self.writable = True
        """See `Transport.writable`."""
        self._paused = False
        self._reading: asyncio.Future[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._close: tuple[int, bytes | None] | None = None
        self._gone = False

    def write(self, frame: bytes) -> None:
        """Queue `frame` for the writer task."""
        self._queue.append(frame)
        self._queued += len(frame)
        if self._queued >= self._high:
            self.writable = False
        self._wake_writer()

    def write_framed(self, data: bytes | memoryview) -> None:
        """Never called: `socket_fd` is `-1`."""
        raise NotImplementedError("the ASGI transport takes text messages, not frames")

    def _wake_writer(self) -> None:
        wake = self._wake
        if wake is not None:
            self._wake = None
            if not wake.done():
                wake.set_result(None)

    def buffered(self) -> int:
        """The queue's bytes, plus the server's write buffer when it can be read."""
        server = self._server_buffer
        return self._queued + (0 if server is None else server())

    def pause_reading(self) -> None:
        """The reader stops before its next `receive`."""
        self._paused = True

    def resume_reading(self) -> None:
        """The reader carries on."""
        self._paused = False
        reading = self._reading
        if reading is not None:
            self._reading = None
            if not reading.done():
                reading.set_result(None)

    def close(self, code: int, frame: bytes | None) -> None:
        """Send what is queued, `frame` and the close `code` (within the close timeout)."""
        if self._close is None:
            self._close = (code, frame)
            self._finish()

    def abort(self) -> None:
        """Stop serving; the ASGI server closes the socket."""
        self._gone = True
        self._finish()

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        self._wake_writer()

    async def serve(self, receiver: Receiver) -> None:
        """Accept the connection and serve it until the session closes it or the client goes."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        websocket = self._websocket
        await websocket.accept()
        self._server_buffer = _write_buffer(websocket)
        writer = loop.create_task(self._write(receiver))
        reader = loop.create_task(self._read(receiver))
        try:
            if self._close is None and not self._gone:
                await self._done
        finally:
            reader.cancel()
            _report(await asyncio.gather(reader, return_exceptions=True))
            if self._close is None or self._gone:
                writer.cancel()
            # Bounded: a client that does not read must not hold the task forever.
            with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
                async with asyncio.timeout(self._close_timeout):
                    _report(await asyncio.gather(writer, return_exceptions=True))
                    if self._close is not None and not self._gone:
                        code, frame = self._close
                        if frame is not None:
                            await websocket.send_text(frame.decode())
                        await websocket.close(code)
            writer.cancel()

    async def _read(self, receiver: Receiver) -> None:
        receive = self._websocket.receive
        loop = asyncio.get_running_loop()
        while True:
            if self._paused:
                reading = self._reading = loop.create_future()
                await reading
                continue
            event = await receive()
            if event["type"] == "websocket.disconnect":
                self._gone = True
                receiver.lost()
                return
            receiver.received(event.get("text"))

    async def _write(self, receiver: Receiver) -> None:
        send = self._websocket.send
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            while queue:
                frame = queue.popleft()
                self._queued -= len(frame)
                try:
                    await send({"type": "websocket.send", "text": frame.decode()})
                except Exception:
                    # The client went away mid-send (WebSocketDisconnect, ClientDisconnected...).
                    self._gone = True
                    receiver.lost()
                    return
                if not self.writable and self._queued <= self._low:
                    self.writable = True
                    receiver.resume_writing()
            if self._close is not None:
                return
            wake = self._wake = loop.create_future()
            await wake


def _report(results: Iterable[object]) -> None:
    """Log what the reader or writer failed with: a bug of the session's, not a client gone."""
    for result in results:
        if isinstance(result, Exception):
            logger.error("a WebSocket connection failed", exc_info=result)
