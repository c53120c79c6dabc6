"""`PicowsConnection`: a session's connection through picows, for the standalone gateway.

picows (Cython) parses and writes WebSocket frames on the loop's own transport; its listener
callbacks are plain calls, so a frame written here goes to the socket at once, with no task per
connection. One object per connection is both the picows listener and the session's `Transport`.

asyncio's write-buffer limits are both zero: it pauses writing at the first byte it buffers
and resumes once all of it is sent. So `writable` means that nothing waits, and the session
learns (`buffering`) the moment something does: until then, the hub may write frames to the
socket itself (`socket_fd`) without overtaking anything. picows writes small frames the same
way (straight to the socket while asyncio's buffer is empty); frames over 8 KiB are framed here
and given to asyncio's `write`, because picows hands those to `writelines`, which CPython 3.12
and 3.13 (before 3.12.9 and 3.13.2: CPython gh-127655) let buffer without pausing the protocol,
keeping a view of picows' reused header buffer that a later frame overwrites.

The socket stops being offered once a close frame was received or sent: the session's close,
the client's, or picows' own (a protocol error, a missed pong). picows sends its own without
telling the listener, but it logs why first, at info level or above, and logs nothing at those
levels while a connection is healthy: each connection has a logger of its own
(`_ConnectionLog`) that takes any such line as the end of the socket's offer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in its stubs

from sock8.gateway import frames
from sock8.gateway.frames import CLOSE_BAD_FRAME, CLOSE_INTERNAL
from sock8.gateway.transport import text_frame

if TYPE_CHECKING:
    from sock8.gateway.app import Gateway
    from sock8.gateway.session import Session

__all__ = ["PicowsConnection", "websocket_protocol_factory"]

logger = logging.getLogger("sock8.gateway")

_TEXT = WSMsgType.TEXT
_PICOWS_COPIES = 8192
"""picows copies a frame up to this size into its own buffer (and writes it with `write`)."""
_CLOSE = WSMsgType.CLOSE
_CONTINUATION = WSMsgType.CONTINUATION


def _not_connected(kind: WSMsgType, frame: bytes) -> None:
    raise RuntimeError("the WebSocket is not connected yet")


class _ConnectionLog:
    """One connection's picows logger, and the factory of its listener.

    Its warnings and errors go to `sock8.gateway`, its info and debug lines nowhere. Not a
    `logging.Logger`, so that picows does not create a child logger per connection (memory that
    is never freed).

    picows logs at info level or above only around a connection's ends: accepted, then gone,
    or about to close it on its own (a protocol error, a missed pong, a failed listener call),
    just before it sends its close frame without telling the listener. Such a line while the
    connection is open is taken as that close (`PicowsConnection.closing`); the worst a line
    picows might add one day could cost is this connection's direct writes.
    """

    __slots__ = ("_connection", "_connections", "_gateway")

    name = "sock8.gateway"

    def __init__(self, gateway: Gateway, connections: set[Any]) -> None:
        self._gateway = gateway
        self._connections = connections
        self._connection: PicowsConnection | None = None

    def listener(self, request: WSUpgradeRequest) -> Any:
        """The connection's listener, or a 403 for an origin the gateway refuses."""
        if self._gateway.refuses_origin(request.headers.get("origin")):
            return WSUpgradeResponseWithListener(WSUpgradeResponse.create_error_response(403), None)
        self._connection = PicowsConnection(self._gateway, self._connections)
        return self._connection

    def isEnabledFor(self, level: int) -> bool:
        """Only warnings and above."""
        return level >= logging.WARNING and logger.isEnabledFor(level)

    def log(self, level: int, message: str, *args: Any, **kwargs: Any) -> None:
        """See the class."""
        if level >= logging.INFO and self._connection is not None:
            self._connection.closing()
        if level >= logging.WARNING:
            logger.log(level, message, *args, **kwargs)

    def debug(self, *args: Any, **kwargs: Any) -> None:
        """Dropped."""

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        """See the class."""
        self.log(logging.INFO, message, *args, **kwargs)

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        """See the class."""
        self.log(logging.WARNING, message, *args, **kwargs)

    def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        """See the class."""
        self.log(logging.ERROR, message, *args, **kwargs)

    def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        """See the class (with the exception being handled)."""
        self.log(logging.ERROR, message, *args, exc_info=True, **kwargs)


class PicowsConnection(WSListener):
    """One picows WebSocket connection: its listener, and its session's `Transport`.

    Arguments:
        gateway: the gateway whose session this connection carries.
        connections: the server's open connections (uvicorn's), for its graceful shutdown.
    """

    __slots__ = (
        "_close_code",
        "_closer",
        "_connections",
        "_gateway",
        "_opened_at",
        "_parts",
        "_raw",
        "_send",
        "_session",
        "_ws",
        "socket_fd",
        "writable",
    )

    def __init__(self, gateway: Gateway, connections: set[Any]) -> None:
        self._gateway = gateway
        self._connections = connections
        self._ws: WSTransport | None = None
        self._send: Callable[[WSMsgType, bytes], None] = _not_connected
        self._raw: asyncio.Transport | None = None
        self._session: Session | None = None
        self._parts: bytearray | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._close_code: int | None = None
        # Created by picows' listener factory, before the upgrade is answered: the client may
        # act as soon as it sees the answer, before `on_ws_connected` runs.
        self._opened_at = gateway.clock.time()
        self.writable = True
        """See `Transport.writable`."""
        self.socket_fd = -1
        """See `Transport.socket_fd`."""

    # picows' callbacks.

    def on_ws_connected(self, transport: WSTransport) -> None:
        """Open the session."""
        self._ws = transport
        self._send = transport.send
        raw = self._raw = transport.underlying_transport
        raw.set_write_buffer_limits(0, 0)
        if os.name == "posix" and raw.get_extra_info("sslcontext") is None:
            self.socket_fd = raw.get_extra_info("socket").fileno()
        self._connections.add(self)
        self._session = self._gateway.open(self, self._opened_at)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """Hand a client message to the session; answer a close."""
        session = self._session
        if session is None:
            return
        try:
            self._frame(session, transport, frame)
        except Exception:
            # Not left to picows, which would close without telling the session.
            logger.exception("handling a client frame failed")
            session.close(CLOSE_INTERNAL, frames.error("internal", "gateway error; reconnect"))

    def _frame(self, session: Session, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT and frame.fin and self._parts is None:
            try:
                text: str | None = frame.get_payload_as_utf8_text()
            except UnicodeDecodeError:
                text = None
            session.received(text)
        elif kind is _CLOSE:
            self.closing()  # the answer below ends what this side may send
            if not transport.is_close_frame_sent:
                transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif kind is _TEXT or kind is _CONTINUATION:
            self._assemble(session, frame)
        elif kind is WSMsgType.BINARY:
            session.received(None)

    def _assemble(self, session: Session, frame: WSFrame) -> None:
        # A message in fragments (browsers do not send them; other clients may).
        if frame.msg_type is _TEXT:
            self._parts = bytearray()
        elif self._parts is None:
            session.received(None)  # a continuation of a binary message
            return
        # Gathered in one buffer, its size checked at once: neither a long run of fragments
        # (even empty ones) nor a large one costs more than its bytes.
        self._parts += frame.get_payload_as_bytes()
        limit = self._gateway.limits.max_frame_bytes
        if len(self._parts) > limit:
            self._parts = None
            session.close(CLOSE_BAD_FRAME, frames.error("bad_frame", f"frame over {limit} bytes"))
            return
        if frame.fin:
            data = self._parts
            self._parts = None
            try:
                text: str | None = data.decode()
            except UnicodeDecodeError:
                text = None
            session.received(text)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        """End the session."""
        self._connections.discard(self)
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        if self._session is not None:
            self._session.lost()

    def closing(self) -> None:
        """A close frame was received, or picows sends one on its own: no frame may reach the
        socket but through picows, which drops those that follow its close frame."""
        self.socket_fd = -1
        if self._session is not None:
            self._session.buffering()

    def pause_writing(self) -> None:
        """asyncio's buffer holds bytes (its high-water mark is zero)."""
        self.writable = False
        if self._session is not None:
            self._session.buffering()

    def resume_writing(self) -> None:
        """asyncio's buffer is empty again: the session writes what waits."""
        self.writable = True
        if self._ws is not None and self._ws.is_close_frame_sent:
            self.closing()  # nothing may follow a close frame
        elif self._close_code is not None:
            self._send_close()
        elif self._session is not None:
            self._session.resume_writing()

    # The session's transport.

    def write(self, frame: bytes) -> None:
        """One text frame, to the socket now (asyncio buffers what it cannot take)."""
        ws, raw = self._ws, self._raw
        if ws is None or raw is None or len(frame) <= _PICOWS_COPIES:
            self._send(_TEXT, frame)
        elif not ws.is_close_frame_sent:  # as picows drops frames after its close
            raw.write(text_frame(frame))

    def write_framed(self, data: bytes | memoryview) -> None:
        """To asyncio's transport as they are."""
        if self._raw is not None:
            self._raw.write(data)

    def buffered(self) -> int:
        """asyncio's write buffer."""
        return 0 if self._raw is None else self._raw.get_write_buffer_size()

    def pause_reading(self) -> None:
        """Stop reading the socket."""
        if self._raw is not None and not self._raw.is_closing():
            self._raw.pause_reading()

    def resume_reading(self) -> None:
        """Read the socket again."""
        if self._raw is not None and not self._raw.is_closing():
            self._raw.resume_reading()

    def close(self, code: int, frame: bytes | None) -> None:
        """`frame` and the close, behind what is buffered; the client's close answer ends the
        connection, or the close timeout does."""
        self.socket_fd = -1
        ws = self._ws
        if ws is None or ws.is_disconnected:
            return
        if frame is not None:
            self.write(frame)
        self._close_code = code
        if self.buffered():
            # The close frame goes once the buffer has drained (`resume_writing`): nothing can
            # overtake what waits there.
            self.writable = False
        else:
            self._send_close()
        # Read again, to see the client's close answer.
        self.resume_reading()
        timeout = self._gateway.limits.close_timeout
        self._closer = asyncio.get_running_loop().call_later(timeout, self.abort)

    def _send_close(self) -> None:
        code = self._close_code
        self._close_code = None
        if code is not None and self._ws is not None and not self._ws.is_disconnected:
            self._ws.send_close(WSCloseCode(code))

    def abort(self) -> None:
        """Drop the connection now."""
        self.socket_fd = -1
        if self._ws is not None:
            self._ws.disconnect(graceful=False)

    def shutdown(self) -> None:
        """The server stops (uvicorn's graceful shutdown): close with 1012, "restarting"."""
        if self._session is not None:
            self._session.close(WSCloseCode.SERVICE_RESTART.value)


def websocket_protocol_factory(
    gateway: Gateway,
    connections: set[Any],
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
) -> Callable[[], asyncio.BaseProtocol]:
    """A factory of picows protocols serving `gateway`'s `/connect` (the front step in
    gateway/server.py routes upgrades to it); pings every `ping_interval` seconds of silence
    when given, and drops a connection whose pong is `ping_timeout` late."""
    limits = gateway.limits
    ping = ping_interval is not None
    interval = ping_interval or 20.0
    timeout = min(ping_timeout or interval, interval)
    # picows' own limit, above the gateway's: a frame over the gateway's limit gets the
    # protocol's bad_frame/4400; only absurd ones are cut at the protocol level (1009).
    max_frame = max(2 * limits.max_frame_bytes, limits.max_frame_bytes + 64 * 1024)

    def factory() -> asyncio.BaseProtocol:
        log = _ConnectionLog(gateway, connections)
        protocol: asyncio.BaseProtocol = WSProtocol(
            None,  # host+port: a server
            None,  # path: a server
            False,  # not the client side
            log.listener,
            log,
            True,  # disconnect on a listener's exception
            10.0,  # handshake timeout
            ping,
            interval,
            timeout,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # answer pings
            max_frame,
            None,  # extra headers
            # Small: an idle connection's read buffer is most of its memory; it grows when a
            # larger frame arrives.
            2048,
        )
        return protocol

    return factory
