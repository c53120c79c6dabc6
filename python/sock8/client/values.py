"""What `sock8.Client` hands out: its state, messages, presence entries and history pages."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Channel",
    "ChannelReset",
    "ChannelsCallback",
    "ClientMessage",
    "ConnectionState",
    "History",
    "HistoryItem",
    "PresenceCallback",
    "PresenceEntry",
    "PresenceUpdate",
    "ResetCallback",
    "StateCallback",
    "SupportsId",
]


class ConnectionState(enum.StrEnum):
    """Where the client's connection stands.

    `disconnected` before `connect()`; `connecting` until the first `welcome`; `connected`;
    `reconnecting` after a lost connection, during backoff and the next attempt; `closed` for
    good, after `close()` or a terminal error (`Client.error`).
    """

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """A message delivered on a channel.

    Attributes:
        channel: the wire id it was published to.
        payload: the decoded JSON payload.
        offset: its place in the channel's history stream, on a channel with history; the
            client resumes from the last one after a reconnect (docs/protocol.md, Recovery).
        epoch: the identity of that stream.
    """

    channel: str
    payload: Any
    offset: int | None = None
    epoch: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelReset:
    """The gateway could not give back what this client missed on a channel while it was
    disconnected (the gap is older than the history keeps, or the stream started again), or
    the resume was refused or not answered in time (`offset` is then the last one this client
    had): some messages are or may be lost, and the app should reload the channel's state (its
    `history`, or the app itself). Passed to `on_reset`.

    Attributes:
        channel: the wire id.
        offset: where the channel's stream stands now.
        epoch: the stream's epoch now.
    """

    channel: str
    offset: int
    epoch: str


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One identity's presence on a channel.

    Attributes:
        is_connected: whether the identity has a connection subscribed to the channel.
        last_seen: the gateway's clock at its last change, epoch milliseconds.
        data: the merged presence data.
    """

    is_connected: bool
    last_seen: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PresenceUpdate:
    """A change of presence on a channel (`presenceUpdate`), passed to `on_presence`.

    Attributes:
        channel: the wire id.
        updates: the changed entries, by identity.
        removals: identities whose last connection left the channel.
    """

    channel: str
    updates: dict[str, PresenceEntry]
    removals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One stored message of a channel's history.

    Attributes:
        timestamp: when the broker accepted it, epoch milliseconds.
        payload: the decoded JSON payload.
    """

    timestamp: int
    payload: Any


@dataclass(frozen=True, slots=True)
class History:
    """One page of a channel's history, newest first.

    Attributes:
        channel: the wire id.
        messages: newest first.
        next_cursor: pass it as `cursor` for the next (older) page; `None` on the last page.
    """

    channel: str
    messages: tuple[HistoryItem, ...]
    next_cursor: str | None


class SupportsId(Protocol):
    """A channel reference with a wire id (`ChannelRef`, a static `ChannelTree` node)."""

    @property
    def id(self) -> str:
        """The wire id."""
        ...


Channel = str | SupportsId
"""A wire id, or anything with an `id` (so app code can pass its `ChannelRef`s)."""

StateCallback = Callable[[ConnectionState], object]
PresenceCallback = Callable[[PresenceUpdate], object]
ResetCallback = Callable[[ChannelReset], object]
ChannelsCallback = Callable[[tuple[str, ...]], object]
