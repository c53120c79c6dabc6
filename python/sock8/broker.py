"""`MemoryBroker`: the embedded broker — in-process fan-out and bounded per-channel history.

It is the gateway's default broker: what its connections receive from and what its
`POST /publish` hands messages to. `Sock8`'s default publisher is not this but an
`HttpPublisher`, which posts to the gateway; a gateway created in the same process replaces that
with its broker, so that emits reach it without HTTP (see `sock8.gateway.Gateway`). Pass a
`MemoryBroker` as `Sock8(publisher=...)` to keep messages in this process without a gateway
(tests, scripts). It implements `sock8.publisher.Broker` and `sock8.publisher.Recoverable`:
stored messages are numbered per channel, and each channel's stream has an epoch that no other
broker instance (a restarted process) and no later stream of the same channel (after it was
forgotten) shares.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from threading import Lock
from typing import Literal

from sock8.errors import ConfigError
from sock8.publisher import (
    Deliver,
    HistoryPage,
    Message,
    Missed,
    Position,
    PresenceDeliver,
    check_payload,
)

__all__ = ["MemoryBroker", "MemorySubscription"]

logger = logging.getLogger("sock8")


class MemorySubscription:
    """A `Subscription` of `MemoryBroker`."""

    __slots__ = ("_broker", "_loop", "active", "channel", "deliver")

    def __init__(
        self,
        broker: MemoryBroker,
        channel: str,
        deliver: Deliver,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self._broker = broker
        self._loop = loop
        self.channel = channel
        self.deliver = deliver
        self.active = True

    def close(self) -> None:
        """Stop deliveries; idempotent."""
        if self.active:
            self.active = False
            self._broker._unsubscribe(self, self._loop)

    def __enter__(self) -> MemorySubscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "active" if self.active else "closed"
        return f"<Subscription {self.channel!r} {state}>"


class _Stream:
    """One channel's history: its epoch, its last offset, and the messages kept."""

    __slots__ = ("entries", "epoch", "offset")

    def __init__(self, epoch: str, size: int) -> None:
        self.epoch = epoch
        self.offset = 0
        self.entries: deque[tuple[int, Message]] = deque(maxlen=size)


def _fan_out(batch: tuple[MemorySubscription, ...], message: Message) -> None:
    for subscription in batch:
        # Checked here, not when scheduling: the subscriber may have left while the message
        # waited for its loop.
        if not subscription.active:
            continue
        try:
            subscription.deliver(message)
        except Exception:
            # One failing subscriber must not cost the others their message.
            logger.exception("a subscriber of %s raised", message.channel)


class MemoryBroker:
    """The embedded broker: in-process fan-out plus bounded per-channel history.

    Thread-safe: `publish` may be called from any thread (a sync web view, a worker) while
    subscribers consume on their event loops; each loop gets one hand-off per message, whatever
    the number of its subscribers. Fan-out work is proportional to the channel's subscribers.

    Arguments:
        history_size: messages kept per channel (the oldest are dropped first).
        max_history_channels: channels with history kept at once; the least recently published
            one is forgotten first, so that per-user or per-room channels cannot grow memory
            without bound.
        clock: epoch seconds, for message timestamps (tests pass a fixed clock).

    Raises:
        ConfigError: `history_size` or `max_history_channels` below 1.
    """

    def __init__(
        self,
        *,
        history_size: int = 100,
        max_history_channels: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in [
            ("history_size", history_size),
            ("max_history_channels", max_history_channels),
        ]:
            if not value >= 1:
                raise ConfigError(f"{name} must be at least 1, not {value!r}")
        self._history_size = history_size
        self._max_history_channels = max_history_channels
        self._clock = clock
        self._lock = Lock()
        # A global sequence, so that a cursor is never reused even after a channel's history
        # was forgotten and started again.
        self._seq = 0
        # Epochs: this instance's random part, then how many streams it had forgotten when the
        # stream started: a stream started again after it was forgotten never continues the old
        # one's offsets, and a channel without a stream has a position without being given one
        # (reading positions must not evict the histories of other channels).
        self._instance = secrets.token_hex(6)
        self._forgotten = 0
        self._history: OrderedDict[str, _Stream] = OrderedDict()
        self._subscribers: dict[
            str, dict[asyncio.AbstractEventLoop | None, dict[MemorySubscription, None]]
        ] = {}

    def publish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """Store (when `persist`) and deliver `payload` to the current subscribers of `channel`.

        Raises:
            ValueError: `payload` is not exactly one JSON value (`sock8.publisher.check_payload`);
                nothing is stored or delivered.
        """
        # Subscribers (the gateway's frames) splice the text into their own JSON.
        check_payload(channel, payload)
        stamp = int(self._clock() * 1000)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        local: tuple[MemorySubscription, ...] = ()
        with self._lock:
            message = (
                self._store(channel, payload, stamp)
                if persist
                else Message(channel, payload, stamp)
            )
            # Scheduled under the lock so that every loop sees the channel's messages in the
            # order the history holds them.
            for loop, group in self._subscribers.get(channel, {}).items():
                batch = tuple(group)
                if loop is None:
                    local = batch
                    continue
                try:
                    if loop is running:
                        loop.call_soon(_fan_out, batch, message)
                    else:
                        loop.call_soon_threadsafe(_fan_out, batch, message)
                except RuntimeError:
                    # The loop has closed: at-most-once delivery drops the message for it.
                    logger.debug("dropped a message for %s: its event loop is closed", channel)
        if local:
            # Outside the lock: a callback that publishes again must not deadlock.
            _fan_out(local, message)

    async def apublish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """`publish`; it never blocks, so the twin just calls it."""
        self.publish(channel, payload, persist=persist)

    def history(self, channel: str, *, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        """Up to `limit` stored messages of `channel`, newest first, at or before `cursor`.

        Raises:
            ValueError: `limit` below 1, or a malformed `cursor`.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        upto = _parse_cursor(cursor)
        with self._lock:
            stream = self._history.get(channel)
            stored = () if stream is None else tuple(stream.entries)
        page: list[Message] = []
        for seq, message in reversed(stored):
            if upto is not None and seq > upto:
                continue
            if len(page) == limit:
                return HistoryPage(tuple(page), str(seq))
            page.append(message)
        return HistoryPage(tuple(page), None)

    async def ahistory(
        self, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        """`history`; it never blocks, so the twin just calls it."""
        return self.history(channel, limit=limit, cursor=cursor)

    def subscribe(
        self,
        channel: str,
        deliver: Deliver,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        presence: PresenceDeliver | None = None,
    ) -> MemorySubscription:
        """Call `deliver(message)` for every message published to `channel` from now on.

        With `loop`, `deliver` runs on that event loop whatever thread publishes; without, it
        runs in the publishing thread. The subscription is also a context manager that closes it.
        `presence` is never called: in one process, presence changes need no carrier.
        """
        subscription = MemorySubscription(self, channel, deliver, loop)
        with self._lock:
            self._subscribers.setdefault(channel, {}).setdefault(loop, {})[subscription] = None
        return subscription

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions `channel` has (for tests and metrics)."""
        with self._lock:
            return sum(len(group) for group in self._subscribers.get(channel, {}).values())

    @property
    def status(self) -> Literal["memory"]:
        """Always `"memory"`: what `GET /health` reports for the embedded broker."""
        return "memory"

    def positions(self, channels: list[str]) -> dict[str, Position]:
        """Each channel's current position (offset 0 for a channel with nothing stored)."""
        with self._lock:
            return {channel: self._position(channel) for channel in channels}

    async def apositions(self, channels: list[str]) -> dict[str, Position]:
        """`positions`; it never blocks, so the twin just calls it."""
        return self.positions(channels)

    def missed(self, channel: str, since: Position) -> Missed:
        """The stored messages of `channel` after `since`, oldest first, when the history
        still holds all of them in `since.epoch`; else none, and `recovered=False`."""
        with self._lock:
            position = self._position(channel)
            stream = self._history.get(channel)
            entries = () if stream is None else tuple(stream.entries)
        return Missed.after(since, position, (message for _, message in entries))

    async def amissed(self, channel: str, since: Position) -> Missed:
        """`missed`; it never blocks, so the twin just calls it."""
        return self.missed(channel, since)

    def _position(self, channel: str) -> Position:
        # Under the lock. A channel without a stream is at offset 0 of the epoch its stream
        # would start with now; a stream forgotten meanwhile changes that epoch.
        stream = self._history.get(channel)
        if stream is None:
            return Position(0, self._epoch())
        return Position(stream.offset, stream.epoch)

    def _epoch(self) -> str:
        # The epoch a stream started now gets (under the lock).
        return f"{self._instance}-{self._forgotten}"

    def _stream(self, channel: str) -> _Stream:
        # Under the lock.
        stream = self._history.get(channel)
        if stream is None:
            stream = _Stream(self._epoch(), self._history_size)
            self._history[channel] = stream
            if len(self._history) > self._max_history_channels:
                self._history.popitem(last=False)
                self._forgotten += 1
        else:
            self._history.move_to_end(channel)
        return stream

    def _store(self, channel: str, payload: str, stamp: int) -> Message:
        # Under the lock.
        self._seq += 1
        stream = self._stream(channel)
        stream.offset += 1
        message = Message(channel, payload, stamp, stream.offset, stream.epoch)
        stream.entries.append((self._seq, message))
        return message

    def _unsubscribe(
        self, subscription: MemorySubscription, loop: asyncio.AbstractEventLoop | None
    ) -> None:
        with self._lock:
            groups = self._subscribers.get(subscription.channel)
            if groups is None:
                return
            group = groups.get(loop)
            if group is not None:
                group.pop(subscription, None)
                if not group:
                    del groups[loop]
            if not groups:
                del self._subscribers[subscription.channel]

    def __repr__(self) -> str:
        return f"MemoryBroker(history_size={self._history_size})"


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    # Only the canonical decimal form this broker writes; int() alone would take " 7", "+7", "0_7".
    canonical = cursor.isascii() and cursor.isdigit() and len(cursor) <= 20
    if not canonical or cursor != str(int(cursor)):
        raise ValueError("invalid history cursor")
    return int(cursor)
