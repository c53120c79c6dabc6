"""The gateway's frames (docs/protocol.md): parsing client frames, writing server frames.

Client frames are parsed strictly into small typed values; anything else is a `BadFrame`
(error `bad_frame`, close 4400). Server frames are written here, once each: a channel message
in particular is assembled from the broker's JSON text without parsing it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

from sock8._close_codes import (
    CLOSE_BAD_FRAME,
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHORIZED,
)
from sock8.publisher import Position

__all__ = [
    "CLOSE_BAD_FRAME",
    "CLOSE_FORBIDDEN",
    "CLOSE_INTERNAL",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAUTHORIZED",
    "MAX_EPOCH_CHARS",
    "MAX_OFFSET",
    "Auth",
    "BadFrame",
    "ClientFrame",
    "GetPresence",
    "Refresh",
    "SetPresence",
    "Subscribe",
    "Unsubscribe",
    "channel_message",
    "dumps",
    "error",
    "parse_client_frame",
]

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON, ASCII-only.

    ASCII escapes keep a lone surrogate that a client sent (`"\\ud800"` is valid JSON) from
    reaching the transport, where encoding it to UTF-8 would fail.
    """
    return _ENCODER.encode(value)


@dataclass(frozen=True, slots=True)
class Auth:
    """`{"event": "auth", "token"}`: the first frame of a connection."""

    token: str


@dataclass(frozen=True, slots=True)
class Refresh:
    """`{"event": "refresh", "token"}`: a new token for the same identity."""

    token: str


MAX_OFFSET = 2**53 - 1
"""The largest offset a `since` may carry: the largest integer a JavaScript number holds."""

MAX_EPOCH_CHARS = 64
"""The longest epoch a `since` may carry; brokers' epochs are far shorter."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    """`{"event": "subscribe", "channel", "since"?: {"offset", "epoch"}}`: `since` is the
    position of the last message the client has of the channel (recovery)."""

    channel: str
    since: Position | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """`{"event": "unsubscribe", "channel"}`."""

    channel: str


@dataclass(frozen=True, slots=True)
class SetPresence:
    """`{"event": "setPresence", "channel", "data"}`: `data` is merged into the presence entry."""

    channel: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GetPresence:
    """`{"event": "getPresence", "channel"}`."""

    channel: str


ClientFrame = Auth | Refresh | Subscribe | Unsubscribe | SetPresence | GetPresence
"""Every frame a client may send."""


class BadFrame(ValueError):
    """A client frame the gateway refuses; the message says why (it is sent to the client)."""


def _refuse(reason: str) -> NoReturn:
    raise BadFrame(reason)


def _no_constants(name: str) -> NoReturn:
    # json.loads accepts NaN and Infinity by default; they are not JSON.
    _refuse(f"{name} is not JSON")


def _string(frame: dict[str, Any], name: str, event: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str):
        _refuse(f"{event} needs a string {name!r}")
    return value


def _since(value: object) -> Position | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"offset", "epoch"}:
        _refuse("subscribe 'since' must be an object with exactly 'offset' and 'epoch'")
    offset, epoch = value["offset"], value["epoch"]
    # bool is an int in Python, and 1.0 == 1: neither is an offset.
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        _refuse(f"subscribe 'since.offset' must be an integer from 0 to {MAX_OFFSET}")
    if not isinstance(epoch, str) or not 0 < len(epoch) <= MAX_EPOCH_CHARS:
        _refuse(f"subscribe 'since.epoch' must be a string of 1 to {MAX_EPOCH_CHARS} characters")
    return Position(offset, epoch)


def parse_client_frame(text: str | None, max_bytes: int) -> ClientFrame:
    """Parse one client frame; `text` is `None` for a binary frame.

    Raises:
        BadFrame: a binary frame, more than `max_bytes` of UTF-8, not a JSON object, an unknown
            `event`, or a missing or mistyped field. Unknown extra fields are ignored.
    """
    if text is None:
        _refuse("frames are JSON text, not binary")
    # len(text) <= UTF-8 length <= 4 * len(text): encode only when the answer is not obvious.
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode()) > max_bytes):
        _refuse(f"frame over {max_bytes} bytes")
    try:
        frame = json.loads(text, parse_constant=_no_constants)
    except BadFrame:
        raise
    except (ValueError, RecursionError):
        _refuse("frame is not JSON")
    if not isinstance(frame, dict):
        _refuse("frame is not a JSON object")
    event = frame.get("event")
    if event == "subscribe":
        return Subscribe(_string(frame, "channel", event), _since(frame.get("since")))
    if event == "unsubscribe":
        return Unsubscribe(_string(frame, "channel", event))
    if event == "setPresence":
        data = frame.get("data")
        if not isinstance(data, dict):
            _refuse("setPresence needs an object 'data'")
        return SetPresence(_string(frame, "channel", event), data)
    if event == "getPresence":
        return GetPresence(_string(frame, "channel", event))
    if event == "auth":
        return Auth(_string(frame, "token", event))
    if event == "refresh":
        return Refresh(_string(frame, "token", event))
    if isinstance(event, str):
        _refuse(f"unknown event {event[:64]!r}")
    _refuse("frame has no string 'event'")


def channel_message(
    channel_json: str, payload: str, offset: int | None = None, epoch: str | None = None
) -> str:
    """A channel message frame from the channel id as JSON and the payload's JSON text, with
    the message's `offset` and `epoch` when its broker numbered it.

    Built by concatenation: the payload was encoded once by its publisher and is not parsed.
    """
    if offset is None or epoch is None:
        return '{"channel":' + channel_json + ',"payload":' + payload + "}"
    return (
        '{"channel":'
        + channel_json
        + ',"payload":'
        + payload
        + ',"offset":'
        + str(offset)
        + ',"epoch":'
        + dumps(epoch)
        + "}"
    )


def error(code: str, message: str, channel: str | None = None) -> str:
    """`{"event": "error", "code", "message", "channel"?}`."""
    frame: dict[str, str] = {"event": "error", "code": code, "message": message}
    if channel is not None:
        frame["channel"] = channel
    return dumps(frame)
