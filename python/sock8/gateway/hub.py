"""The hub: which local connections receive which channel, over one broker subscription each.

A channel's first local subscriber opens one `Broker` subscription for it; its last one closes
it. A broker message is turned into its frame once, then offered to each subscriber's bounded
queue without awaiting: the work per message is proportional to the channel's subscribers, and
a slow subscriber costs the others nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Protocol

from sock8.gateway.frames import channel_message
from sock8.publisher import Broker, Message, Subscription

__all__ = ["Hub", "Sink"]


class Sink(Protocol):
    """A hub subscriber: a connection's send queue."""

    def offer(self, frame: str) -> None:
        """Queue `frame` without blocking; on overflow, the sink closes itself.

        Must neither await nor subscribe or unsubscribe anything synchronously (the hub is
        iterating its subscribers).
        """


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
        frame = channel_message(self.id_json, message.payload)
        for sink in self.sinks:
            sink.offer(frame)

    def broadcast(self, frame: str) -> None:
        for sink in self.sinks:
            sink.offer(frame)


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

    def broadcast(self, channel: str, frame: str) -> None:
        """Offer an already written `frame` to the local subscribers of `channel`."""
        entry = self._channels.get(channel)
        if entry is not None:
            entry.broadcast(frame)

    def subscribers(self, channel: str) -> int:
        """How many local subscribers `channel` has."""
        entry = self._channels.get(channel)
        return 0 if entry is None else len(entry.sinks)

    def __len__(self) -> int:
        """How many channels have local subscribers (and so a broker subscription)."""
        return len(self._channels)

    def __repr__(self) -> str:
        return f"<Hub channels={len(self._channels)}>"
