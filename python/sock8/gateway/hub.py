"""The hub: which local connections receive which channel, over one broker subscription each.

A channel's first local subscriber opens one `Broker` subscription for it; its last one closes
it. A broker message is turned into its frame once, then offered to each subscriber's bounded
queue without awaiting: the work per message is proportional to the channel's subscribers, and
a slow subscriber costs the others nothing. Presence changes go out the same way, as
`PresenceChange` items a subscriber's queue may merge with the changes still waiting there.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Protocol

from sock8._core import check_json
from sock8.gateway.frames import channel_message
from sock8.gateway.outbox import utf8_size
from sock8.publisher import Broker, Message, Subscription

if TYPE_CHECKING:
    from sock8.gateway.outbox import PresenceChange

__all__ = ["Hub", "Sink"]

logger = logging.getLogger("sock8.gateway")


class Sink(Protocol):
    """A hub subscriber: a connection's send queue."""

    def offer(self, frame: str, size: int | None = None) -> None:
        """Queue `frame`, of UTF-8 `size` (computed by the sink when `None`), without blocking;
        on overflow, the sink closes itself.

        Must neither await nor subscribe or unsubscribe anything synchronously (the hub is
        iterating its subscribers).
        """

    def offer_presence(self, change: PresenceChange) -> None:
        """Queue a presence change of a channel, like `offer`; the sink may merge it with a
        change of that channel still waiting in its queue."""


class _Channel:
    """One channel's local subscribers and its broker subscription."""

    __slots__ = ("id_json", "sinks", "subscription")

    def __init__(self, channel: str) -> None:
        self.id_json = json.dumps(channel)
        # A dict keeps insertion order (deliveries go out in subscription order) and gives O(1)
        # removal.
        self.sinks: dict[Sink, None] = {}
        self.subscription: Subscription | None = None

    def deliver(self, message: Message) -> None:
        if not self.sinks:
            return
        try:
            # The frame is assembled from the payload's text without parsing it: text that is
            # not exactly one JSON value could add members to the frame (another "channel").
            # Our publishers check it already; a broker of someone else's may not.
            check_json(message.payload)
        except (ValueError, TypeError) as exc:
            logger.error("dropped a message for %s from the broker: %s", message.channel, exc)
            return
        frame = channel_message(self.id_json, message.payload)
        size = utf8_size(frame)
        for sink in self.sinks:
            sink.offer(frame, size)

    def broadcast_presence(self, change: PresenceChange) -> None:
        for sink in self.sinks:
            sink.offer_presence(change)


class Hub:
    """Local fan-out for one event loop.

    Arguments:
        broker: where messages come from.
        loop: the loop the subscribers live on; the broker delivers there.
    """

    def __init__(self, broker: Broker, loop: asyncio.AbstractEventLoop) -> None:
        self._broker = broker
        self._loop = loop
        self._channels: dict[str, _Channel] = {}

    def add(self, channel: str, sink: Sink) -> None:
        """Deliver `channel` to `sink` from now on; idempotent."""
        entry = self._channels.get(channel)
        if entry is None:
            entry = self._channels[channel] = _Channel(channel)
            entry.subscription = self._broker.subscribe(channel, entry.deliver, loop=self._loop)
        entry.sinks[sink] = None

    def remove(self, channel: str, sink: Sink) -> None:
        """Stop delivering `channel` to `sink` at once; idempotent."""
        entry = self._channels.get(channel)
        if entry is None:
            return
        entry.sinks.pop(sink, None)
        if not entry.sinks:
            del self._channels[channel]
            if entry.subscription is not None:
                entry.subscription.close()

    def broadcast_presence(self, change: PresenceChange) -> None:
        """Offer a presence change to the local subscribers of its channel."""
        entry = self._channels.get(change.channel)
        if entry is not None:
            entry.broadcast_presence(change)

    def subscribers(self, channel: str) -> int:
        """How many local subscribers `channel` has."""
        entry = self._channels.get(channel)
        return 0 if entry is None else len(entry.sinks)

    def __len__(self) -> int:
        """How many channels have local subscribers (and so a broker subscription)."""
        return len(self._channels)

    def __repr__(self) -> str:
        return f"<Hub channels={len(self._channels)}>"
