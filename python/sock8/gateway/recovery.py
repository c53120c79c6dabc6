"""Recovery: where a connection's history channels stand, and what it missed while away.

A channel has history when its broker numbers stored messages (`sock8.publisher.Recoverable`)
and the app's channel trees do not say it has none. For such a channel the gateway tells the
client its position (`welcome`, `subscribed`), and a `subscribe` with `since` gets the messages
published after that position from the history, then the live ones, with no duplicate and no
gap at the seam: the connection is subscribed to the live messages first, they are held back
(`Hold`) while the history is read, and released afterwards without those the history already
gave. When the history cannot give all of them (the epoch changed, or they are older than what
it keeps) the answer is `recovered: false`, and the client knows to reload its state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sock8.gateway.frames import channel_message, dumps
from sock8.gateway.outbox import PresenceChange, encode
from sock8.publisher import Message, Position, Recoverable

if TYPE_CHECKING:
    from sock8.gateway.hub import Hub, Sink
    from sock8.gateway.rules import ChannelRules

__all__ = ["Hold", "history_channels", "position_json", "positions", "subscribe"]

logger = logging.getLogger("sock8.gateway")


def history_channels(hub: Hub, rules: ChannelRules, channels: Iterable[str]) -> list[str]:
    """The channels of `channels` that have history: numbered by the broker, and not defined
    without history by the app's trees."""
    if not isinstance(hub.broker, Recoverable):
        return []
    return [channel for channel in channels if rules.history(channel) is not False]


async def positions(hub: Hub, channels: list[str]) -> dict[str, Position]:
    """Where each of `channels` stands (they have history: `history_channels`)."""
    broker = hub.broker
    assert isinstance(broker, Recoverable)
    return await broker.apositions(channels)


def position_json(position: Position) -> dict[str, int | str]:
    """A position as the frames carry it."""
    return {"offset": position.offset, "epoch": position.epoch}


class Hold:
    """Live messages of some channels held back for one subscriber (tapped in the hub) until
    `release`. Created before the history is read: what is published meanwhile is not lost."""

    def __init__(self, hub: Hub, sink: Sink, channels: Iterable[str]) -> None:
        self._hub = hub
        self._sink = sink
        self._held: dict[str, _Held] = {}
        for channel in channels:
            held = self._held[channel] = _Held()
            hub.tap(channel, sink, held)

    async def ready(self) -> None:
        """Wait until the broker delivers every held channel to this node."""
        # One after the other, not gathered: an in-process broker is ready at once, and the
        # caller must then run on without yielding to the loop.
        for channel in self._held:
            await self._hub.ready(channel)

    def release(self, channel: str, after: Position | None, wanted: bool = True) -> None:
        """Offer the held messages of `channel` that come after `after` (all of them when
        `None`), in order, and deliver the channel to the subscriber directly again. With
        `wanted` false (the subscriber left meanwhile) they are dropped."""
        held = self._held.pop(channel, None)
        if held is None:
            return
        last = after
        if wanted:
            for item in held.items:
                if isinstance(item, PresenceChange):
                    self._sink.offer_presence(item)
                    continue
                message, frame = item
                offset, epoch = message.offset, message.epoch
                if offset is not None and epoch is not None and last is not None:
                    if epoch == last.epoch and offset <= last.offset:
                        continue  # the history gave it already
                    last = Position(offset, epoch)
                self._sink.offer(frame)
        if last is None or not wanted or last.offset == 0:
            # At offset 0 nothing was numbered yet, so no delivery on its way can repeat one:
            # the common case of a channel nobody persists to, which must not pay a tap on
            # every delivery (a newer numbered message, what ends a tap, may never come).
            self._hub.untap(channel, self._sink)
        else:
            # Deliveries already on their way to this node may still bring older messages:
            # they are dropped until a newer one comes, and then the tap goes.
            self._hub.tap(channel, self._sink, _Newer(self._hub, channel, self._sink, last))

    def release_all(self, wanted: bool = True) -> None:
        """`release` every channel still held, with nothing to skip."""
        for channel in list(self._held):
            self.release(channel, None, wanted)


class _Newer:
    """Passes a channel's messages on to a subscriber from after `last` on (a `Tap`); untaps
    itself at the first newer one."""

    __slots__ = ("channel", "hub", "last", "sink")

    def __init__(self, hub: Hub, channel: str, sink: Sink, last: Position) -> None:
        self.hub = hub
        self.channel = channel
        self.sink = sink
        self.last = last

    def message(self, message: Message, frame: bytes) -> None:
        offset, epoch = message.offset, message.epoch
        if offset is not None and epoch == self.last.epoch and offset <= self.last.offset:
            return
        self.sink.offer(frame)
        if offset is not None:
            self.hub.untap(self.channel, self.sink)

    def offer_presence(self, change: PresenceChange) -> None:
        self.sink.offer_presence(change)


class _Held:
    """What one channel brought a held subscriber, in order (a `Tap`)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[Message, bytes] | PresenceChange] = []

    def message(self, message: Message, frame: bytes) -> None:
        self.items.append((message, frame))

    def offer_presence(self, change: PresenceChange) -> None:
        self.items.append(change)


async def subscribe(
    hub: Hub,
    sink: Sink,
    channel: str,
    since: Position,
    wanted: Callable[[], bool],
) -> None:
    """Answer a `subscribe` with `since` of a history channel the subscriber was just added to:
    `subscribed` with `recovered` and the position, the missed messages, then the live ones.
    `wanted()` says, after the reads, whether the subscriber still wants the channel.

    Raises:
        Exception: whatever the broker raised reading the history; nothing was sent, and the
            subscriber receives the channel's live messages.
    """
    broker = hub.broker
    assert isinstance(broker, Recoverable)
    hold = Hold(hub, sink, [channel])
    try:
        await hold.ready()
        missed = await broker.amissed(channel, since)
    except BaseException:
        hold.release_all(wanted())
        raise
    if not wanted():
        hold.release_all(False)
        return
    # From here on nothing awaits: the frames go out in this order, before any later message.
    frame = {"event": "subscribed", "channel": channel, "recovered": missed.recovered}
    frame.update(position_json(missed.position))
    sink.offer(encode(dumps(frame)))
    channel_json = dumps(channel)
    for message in missed.messages:
        sink.offer(
            encode(channel_message(channel_json, message.payload, message.offset, message.epoch))
        )
    if not missed.recovered:
        logger.debug("could not recover %s from %s (now at %s)", channel, since, missed.position)
    hold.release(channel, missed.position)
