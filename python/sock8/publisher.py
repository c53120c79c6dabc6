"""The publishing interfaces: `Publisher` (what `emit` needs), `Broker` (what the gateway
reads from), `HistoryStore` (where the gateway's history endpoint reads), and the values they
exchange.

`ChannelRef.emit` validates a payload, encodes it as JSON text once, and hands it to a
`Publisher`. A `Broker` is a publisher that consumers (the gateway) can also subscribe to. The
embedded `sock8.broker.MemoryBroker` is both; a Redis broker or an HTTP publisher (which only
publishes) implement the same protocols. Every publisher is also a `HistoryStore`; a separate
store (Redis streams) may implement just that.

Delivery is at-most-once: a message reaches the subscribers registered when it is published.
A `Recoverable` broker numbers the messages it stores (`Message.offset`, `Message.epoch`), so
that the gateway can give a subscriber back what it missed while it was away, or tell it that
it cannot.
History is kept only for messages published with `persist=True` (channels defined with
`history=True`), newest first, paged with opaque cursors.

A payload is JSON *text* that frames are built around without parsing it again, so every
`publish` checks first that it is exactly one JSON value (`check_payload`): text such as
`"hi","channel":"other"` would otherwise add members to the envelope around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from sock8._core import check_json

__all__ = [
    "Broker",
    "Deliver",
    "HistoryPage",
    "HistoryStore",
    "Message",
    "Missed",
    "Position",
    "PresenceDeliver",
    "Publisher",
    "Recoverable",
    "Status",
    "Subscription",
    "check_payload",
]

Deliver = Callable[["Message"], object]
"""A subscriber's callback. It must not block: the gateway puts the message on a bounded queue."""

PresenceDeliver = Callable[[str, "Mapping[str, Any] | None"], object]
"""A subscriber's callback for presence changes carried by a shared broker: the identity, and
its new entry (`{"lastSeen": epoch ms, "data": {...}}`) or `None` when it left. Must not block."""


@dataclass(frozen=True, slots=True)
class Message:
    """One published message.

    Attributes:
        channel: the wire id it was published to.
        payload: the validated payload, encoded as JSON text once by `emit`; every subscriber
            and the history reuse this text.
        timestamp: when the broker accepted it, in epoch milliseconds (JavaScript's `Date.now()`).
        offset: its place in the channel's history stream (1, 2, ...), for a message published
            with `persist=True` to a broker that numbers them (`Recoverable`); else `None`.
        epoch: the identity of that stream: it changes when the stream starts again from
            nothing (a restarted in-memory broker, a flushed Redis), so that an offset of an
            older stream is never taken for one of this stream.
    """

    channel: str
    payload: str
    timestamp: int
    offset: int | None = None
    epoch: str | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a channel's history stream: the last offset seen, and the stream's epoch.

    Attributes:
        offset: the offset of the last message (0: none yet).
        epoch: the stream's epoch.
    """

    offset: int
    epoch: str


@dataclass(frozen=True, slots=True)
class Missed:
    """What a subscriber missed since a `Position` (`Recoverable.amissed`).

    Attributes:
        position: the stream's position when it was read (its newest offset).
        messages: the messages after the position asked for, oldest first, up to `position`;
            empty when not `recovered`.
        recovered: `False` when they cannot all be given: the epoch changed, or the history no
            longer holds the oldest of them. The subscriber must then reload its state.
    """

    position: Position
    messages: tuple[Message, ...]
    recovered: bool

    @classmethod
    def after(cls, since: Position, position: Position, stored: Iterable[Message]) -> Missed:
        """What was missed since `since`, from a stream at `position` whose `stored` messages
        are numbered and oldest first: all of them after `since`, or none when the epoch
        changed, `since` is ahead, or the oldest of them are no longer stored."""
        if since.epoch != position.epoch or since.offset > position.offset:
            return cls(position, (), False)
        messages = tuple(message for message in stored if (message.offset or 0) > since.offset)
        if len(messages) != position.offset - since.offset:
            return cls(position, (), False)
        return cls(position, messages, True)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a channel's history.

    Attributes:
        messages: newest first.
        next_cursor: pass it back as `cursor` to get the next (older) page; `None` on the last page.
    """

    messages: tuple[Message, ...]
    next_cursor: str | None


def check_payload(channel: str, payload: str) -> None:
    """Check that `payload` is exactly one strict JSON value, as every `Publisher.publish` must
    before it hands the text on (docs/spec.md §5: no second value, no duplicate member names,
    no `NaN`, nesting at most `sock8._core.MAX_PAYLOAD_DEPTH` deep). About 0.3 µs for a
    200-byte payload.

    Raises:
        ValueError: the payload is not one JSON value; the message names `channel` and where
            the text went wrong.
        TypeError: `payload` is not a `str`.
    """
    if not isinstance(payload, str):
        raise TypeError(f"payload must be JSON text (a str), not {type(payload).__name__}")
    try:
        check_json(payload)
    except ValueError as exc:
        raise ValueError(f"payload for {channel!r:.120}: {exc}") from None


@runtime_checkable
class HistoryStore(Protocol):
    """Where the gateway's `GET /history` reads. A `Broker` is one: it stores what is published
    with `persist=True`; a separate store (Redis streams) implements just this."""

    async def ahistory(
        self, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        """Up to `limit` stored messages of `channel`, newest first, older than `cursor`.

        Raises:
            ValueError: a `cursor` this store did not issue.
        """


@runtime_checkable
class Publisher(Protocol):
    """What `ChannelRef.emit` and the history route need: publish, and read back history."""

    def publish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """Publish `payload` (JSON text) to the wire id `channel`; store it when `persist`.

        Implementations call `check_payload` first: the payload may come from anyone's code,
        and frames are built around its text.

        Raises:
            ValueError: `payload` is not exactly one JSON value (`check_payload`); nothing was
                published or stored. A caller's mistake, not a delivery failure: retrying
                cannot help, so it is not a `PublishError`.
            PublishError: the message could not be handed over (other exceptions are wrapped
                into `PublishError` by `emit`, which only ever publishes valid JSON).
        """

    async def apublish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """The async twin of `publish`; never blocks the event loop."""

    def history(self, channel: str, *, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        """Up to `limit` stored messages of `channel`, newest first, older than `cursor`.

        Raises:
            ValueError: `limit` below 1, or a `cursor` this publisher did not issue.
        """

    async def ahistory(
        self, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        """The async twin of `history`; never blocks the event loop."""


class Subscription(Protocol):
    """One consumer's registration on one channel, as returned by `Broker.subscribe`."""

    @property
    def channel(self) -> str:
        """The wire id subscribed to."""

    def close(self) -> None:
        """Stop deliveries; idempotent. A message already handed to the loop is dropped."""


@runtime_checkable
class Broker(Publisher, Protocol):
    """A publisher that consumers can subscribe to: what the gateway reads from."""

    def subscribe(
        self,
        channel: str,
        deliver: Deliver,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        presence: PresenceDeliver | None = None,
    ) -> Subscription:
        """Call `deliver(message)` for every message published to `channel` from now on.

        With `loop`, `deliver` runs on that event loop whatever thread publishes; without,
        it runs in the publishing thread. A broker shared by several gateway nodes also calls
        `presence` with the channel's presence changes that a shared presence store (one that
        `carried_by` this broker) announced on it, from every node, this one included; an
        in-process broker never calls it.
        """


@runtime_checkable
class Recoverable(Protocol):
    """A broker whose history messages carry offsets and epochs: the gateway can tell a
    subscriber where a channel stands and give back what it missed (docs/protocol.md,
    "Recovery")."""

    async def apositions(self, channels: list[str]) -> dict[str, Position]:
        """Each channel's current position (offset 0 when nothing was stored yet). A channel
        without a stream gets one, with its epoch, so that a later message continues it."""

    async def amissed(self, channel: str, since: Position) -> Missed:
        """The messages of `channel` after `since`, oldest first, if the history still holds
        every one of them and `since.epoch` is the stream's epoch."""


@runtime_checkable
class Status(Protocol):
    """A broker that can say whether it is connected: the gateway's `GET /health` reports it
    (a broker without `status` counts as `"ok"`)."""

    @property
    def status(self) -> Literal["memory", "ok", "unavailable"]:
        """`"memory"` for an in-process broker; `"ok"` or `"unavailable"` for a shared one."""
