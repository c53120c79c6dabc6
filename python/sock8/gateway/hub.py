"""The hub: which local connections receive which channel, over one broker subscription each.

A channel's first local subscriber opens one `Broker` subscription for it; its last one closes
it. A broker message is turned into its frame's UTF-8 bytes once, then the same bytes are offered
to each subscriber (written to its socket, or queued when the socket is backed up) without
awaiting: the work per message is proportional to the channel's subscribers, and
a slow subscriber costs the others nothing. Presence changes go out the same way, as
`PresenceChange` items a subscriber's queue may merge with the changes still waiting there.

Most subscribers of the standalone gateway offer their socket (`Sink.direct_fd`) while nothing
waits to be sent to them: the hub then builds the message's WebSocket frame once and writes it
to each such socket itself, one `os.write` per subscriber and no Python call in between (the
delivery cost is then mostly the kernel's). A socket that takes part of the frame gets the rest
through its sink, behind it; one that takes none (full, or failing) gets the message through
`Sink.offer` like the others, whose transport queues it or sees the failure.

With a shared presence store (several gateway nodes), this node's presence changes are not
broadcast here: the store announces them through the broker, whose subscription hands every
node's changes (this one's included) to `_Channel.relayed_presence`, so that every node offers
a channel's changes in the same order.

A subscriber may be *tapped* for a while (`tap`): the channel's messages then go to a callback
instead of its queue, with the message itself, so that recovery (gateway/recovery.py) can hold
live messages back while it reads the history, and drop those the history already gave.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from os import write
from typing import Any, Protocol

from sock8._core import check_json
from sock8.gateway.frames import channel_message, dumps
from sock8.gateway.outbox import PresenceChange, encode
from sock8.gateway.presence import PresenceEntry
from sock8.gateway.transport import text_frame
from sock8.publisher import Broker, Message, Subscription

__all__ = ["Hub", "Sink", "Tap"]

logger = logging.getLogger("sock8.gateway")


class Sink(Protocol):
    """A hub subscriber: a connection's send queue."""

    direct_fd: int
    """A socket the hub may write a message's whole frame to itself, or `-1`. Set only while
    nothing waits to be sent before it (no queued frame, an empty transport buffer) and the
    connection is open: the descriptor is then the connection's own."""

    def write_rest(self, data: memoryview) -> None:
        """The rest of a frame the hub wrote to `direct_fd` in part; sent behind it, never
        dropped (and `direct_fd` is `-1` while any of it waits)."""

    def offer(self, frame: bytes) -> None:
        """Send `frame` (UTF-8), or queue it, without blocking; on overflow, the sink closes
        itself.

        Must neither await nor subscribe or unsubscribe anything synchronously (the hub is
        iterating its subscribers).
        """

    def offer_presence(self, change: PresenceChange) -> None:
        """Queue a presence change of a channel, like `offer`; the sink may merge it with a
        change of that channel still waiting in its queue."""


class Tap(Protocol):
    """Takes a tapped subscriber's messages and presence changes of one channel; must not
    block, raise, or change the hub."""

    def message(self, message: Message, frame: bytes) -> None:
        """A message, and its frame."""

    def offer_presence(self, change: PresenceChange) -> None:
        """A presence change."""


class _Channel:
    """One channel's local subscribers and its broker subscription."""

    __slots__ = ("channel", "count", "id_json", "last", "sinks", "subscription", "taps")

    def __init__(self, channel: str, count: Callable[[int], object]) -> None:
        self.channel = channel
        self.count = count
        self.id_json = json.dumps(channel)
        # A dict keeps insertion order (deliveries go out in subscription order) and gives O(1)
        # removal.
        self.sinks: dict[Sink, None] = {}
        self.taps: dict[Sink, Tap] = {}
        self.subscription: Subscription | None = None
        # The last numbered message delivered: a message already delivered again (a broker's
        # resync) is dropped, and a gap is reported to the subscribers.
        self.last: tuple[int, str] | None = None

    def deliver(self, message: Message) -> None:
        if not self.sinks and not self.taps:
            return
        try:
            # The frame is assembled from the payload's text without parsing it: text that is
            # not exactly one JSON value could add members to the frame (another "channel").
            # Our publishers check it already; a broker of someone else's may not.
            check_json(message.payload)
        except (ValueError, TypeError) as exc:
            logger.error("dropped a message for %s from the broker: %s", message.channel, exc)
            return
        offset, epoch = message.offset, message.epoch
        if offset is not None and epoch is not None:
            last = self.last
            if last is not None and epoch == last[1]:
                if offset <= last[0]:
                    return
                if offset > last[0] + 1:
                    self._lost(offset, epoch)
            elif last is not None:
                self._lost(offset, epoch)
            self.last = (offset, epoch)
        frame = encode(channel_message(self.id_json, message.payload, offset, epoch))
        wire = b""
        for sink in self.sinks:
            fd = sink.direct_fd
            if fd >= 0:
                if not wire:
                    wire = text_frame(frame)
                try:
                    sent = write(fd, wire)
                except OSError:
                    sent = 0  # full, or failing: `offer` queues it, or its transport fails
                if sent == len(wire):
                    continue
                if sent:
                    sink.write_rest(memoryview(wire)[sent:])
                    continue
            sink.offer(frame)
        if self.taps:
            for tap in list(self.taps.values()):
                tap.message(message, frame)
        # Once per message, not per frame: the metrics' deliveries.
        self.count(len(self.sinks))

    def _lost(self, offset: int, epoch: str) -> None:
        """Messages before `offset` never reached this node (its broker subscription was down
        longer than the history keeps, or the stream was reset): the subscribers are told, as
        a recovery that failed, so that none of them loses messages silently."""
        logger.warning("messages of %s were lost before offset %d", self.channel, offset)
        frame = encode(
            dumps(
                {
                    "event": "subscribed",
                    "channel": self.channel,
                    "recovered": False,
                    "offset": offset - 1,
                    "epoch": epoch,
                }
            )
        )
        for sink in self.sinks:
            sink.offer(frame)

    def broadcast_presence(self, change: PresenceChange) -> None:
        for sink in self.sinks:
            sink.offer_presence(change)
        for tap in list(self.taps.values()):
            tap.offer_presence(change)

    def relayed_presence(self, identity: str, entry: Mapping[str, Any] | None) -> None:
        """A presence change of any node, carried by the broker."""
        if not self.sinks and not self.taps:
            return
        value = None
        if entry is not None:
            last_seen, data = entry.get("lastSeen"), entry.get("data")
            if not isinstance(last_seen, int) or not isinstance(data, dict):
                logger.error("dropped a malformed presence change for %s", self.channel)
                return
            value = PresenceEntry(True, last_seen, data)
        self.broadcast_presence(PresenceChange(self.channel, identity, value))


class Hub:
    """Local fan-out for one event loop.

    Arguments:
        broker: where messages come from.
        loop: the loop the subscribers live on; the broker delivers there.
        relayed: the presence store is shared: presence changes come from the broker's
            subscriptions, and `broadcast_presence` leaves them to it.
        count: called once per message with the number of subscribers it was offered to.
    """

    def __init__(
        self,
        broker: Broker,
        loop: asyncio.AbstractEventLoop,
        *,
        relayed: bool = False,
        count: Callable[[int], object] = int,
    ) -> None:
        self._broker = broker
        self._count = count
        self._loop = loop
        self._relayed = relayed
        self._channels: dict[str, _Channel] = {}

    def add(self, channel: str, sink: Sink) -> None:
        """Deliver `channel` to `sink` from now on; idempotent."""
        entry = self._channels.get(channel)
        if entry is None:
            entry = self._channels[channel] = _Channel(channel, self._count)
            if self._relayed:
                entry.subscription = self._broker.subscribe(
                    channel, entry.deliver, loop=self._loop, presence=entry.relayed_presence
                )
            else:
                entry.subscription = self._broker.subscribe(channel, entry.deliver, loop=self._loop)
        if sink not in entry.taps:
            entry.sinks[sink] = None

    def tap(self, channel: str, sink: Sink, tap: Tap) -> None:
        """Hand `channel`'s messages and presence changes for `sink` to `tap` instead, until
        `untap`; subscribes
        `sink` first when it was not."""
        self.add(channel, sink)
        entry = self._channels[channel]
        entry.sinks.pop(sink, None)
        entry.taps[sink] = tap

    def untap(self, channel: str, sink: Sink) -> None:
        """Offer `channel`'s messages to `sink` itself again (if it is still subscribed)."""
        entry = self._channels.get(channel)
        if entry is not None and entry.taps.pop(sink, None) is not None:
            entry.sinks[sink] = None

    def remove(self, channel: str, sink: Sink) -> None:
        """Stop delivering `channel` to `sink` at once; idempotent."""
        entry = self._channels.get(channel)
        if entry is None:
            return
        entry.sinks.pop(sink, None)
        entry.taps.pop(sink, None)
        if not entry.sinks and not entry.taps:
            del self._channels[channel]
            if entry.subscription is not None:
                entry.subscription.close()

    async def ready(self, channel: str) -> None:
        """Wait until the broker delivers `channel` to this node, when it can say (a shared
        broker subscribes in the background, for a bounded time): a presence change announced
        before that would miss this node's subscribers, its author included."""
        entry = self._channels.get(channel)
        ready = None if entry is None else getattr(entry.subscription, "ready", None)
        if ready is not None:
            await ready()

    def broadcast_presence(self, change: PresenceChange) -> None:
        """Offer a presence change this node made to the local subscribers of its channel;
        with a shared store (`relayed`), nothing: the broker brings it back like any node's."""
        if self._relayed:
            return
        entry = self._channels.get(change.channel)
        if entry is not None:
            entry.broadcast_presence(change)

    def subscribers(self, channel: str) -> int:
        """How many local subscribers `channel` has."""
        entry = self._channels.get(channel)
        return 0 if entry is None else len(entry.sinks) + len(entry.taps)

    @property
    def broker(self) -> Broker:
        """Where messages come from."""
        return self._broker

    def channels(self) -> list[str]:
        """The channels with local subscribers."""
        return list(self._channels)

    def __len__(self) -> int:
        """How many channels have local subscribers (and so a broker subscription)."""
        return len(self._channels)

    def __repr__(self) -> str:
        return f"<Hub channels={len(self._channels)}>"
