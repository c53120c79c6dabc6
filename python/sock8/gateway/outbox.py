"""A connection's send queue: bounded, with presence updates coalesced and notices not repeated.

The queue holds written frames and two kinds of items that are written only when the connection's
writer takes them:

- A *presence batch*: the presence changes of one channel waiting to be sent, the latest per
  identity. A change for a channel whose batch still waits is merged into that batch instead of
  taking another place, as long as no other kind of frame was queued after the batch: presence
  updates then never overtake, nor fall behind, any other frame, and a flood of presence changes
  takes one place per channel, however many arrive before the client reads.
- A *notice*: an error frame that is queued only when no notice of its kind is waiting unsent
  (`rate_limited`): refusing a flood must not itself fill the flooder's queue.

Only the connection's writer takes items; everything else puts without awaiting.
"""

from __future__ import annotations

import asyncio

from sock8.gateway.frames import dumps
from sock8.gateway.presence import PresenceEntry

__all__ = ["Outbox", "PresenceChange"]


class PresenceChange:
    """One identity's presence change on one channel, as broadcast to the channel's subscribers.

    Its frame is written on first use and shared by every connection that sends it unmerged: a
    change is serialized once, whatever the number of subscribers.

    Arguments:
        channel: the channel's wire id.
        identity: whose entry changed.
        entry: the identity's whole new entry; `None` when the identity left.
    """

    __slots__ = ("_frame", "channel", "entry", "identity")

    def __init__(self, channel: str, identity: str, entry: PresenceEntry | None) -> None:
        self.channel = channel
        self.identity = identity
        self.entry = entry
        self._frame: str | None = None

    @property
    def frame(self) -> str:
        """The `presenceUpdate` frame carrying only this change."""
        if self._frame is None:
            self._frame = _presence_update(self.channel, [self])
        return self._frame

    def __repr__(self) -> str:
        kind = "left" if self.entry is None else "updated"
        return f"<PresenceChange {self.identity!r} {kind} on {self.channel!r}>"


def _presence_update(channel: str, changes: list[PresenceChange]) -> str:
    return dumps(
        {
            "event": "presenceUpdate",
            "channel": channel,
            "updates": {
                change.identity: change.entry.as_json()
                for change in changes
                if change.entry is not None
            },
            "removals": [change.identity for change in changes if change.entry is None],
        }
    )


class _PresenceBatch:
    """The presence changes of one channel waiting in a queue: the latest per identity."""

    __slots__ = ("changes", "channel")

    def __init__(self, change: PresenceChange) -> None:
        self.channel = change.channel
        self.changes = {change.identity: change}

    def frame(self) -> str:
        if len(self.changes) == 1:
            (change,) = self.changes.values()
            return change.frame
        return _presence_update(self.channel, list(self.changes.values()))


class _Notice:
    __slots__ = ("frame", "kind")

    def __init__(self, kind: str, frame: str) -> None:
        self.kind = kind
        self.frame = frame


class Outbox:
    """A bounded queue of frames for one connection's writer.

    Every `put...` returns `False` when the queue is full (the connection is then a slow
    consumer); a merged presence change or a notice left out takes no place, and returns `True`.

    Arguments:
        size: how many items the queue holds.
    """

    __slots__ = ("_notices", "_open", "_queue")

    def __init__(self, size: int) -> None:
        self._queue: asyncio.Queue[str | _PresenceBatch | _Notice] = asyncio.Queue(size)
        # Batches that may still take changes: waiting, with only presence queued after them.
        self._open: dict[str, _PresenceBatch] = {}
        self._notices: set[str] = set()

    def put(self, frame: str) -> bool:
        """Queue a written frame."""
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        # Changes made from now on must not be sent ahead of this frame.
        self._open.clear()
        return True

    def put_presence(self, change: PresenceChange) -> bool:
        """Queue a presence change, merged into its channel's waiting batch when there is one."""
        batch = self._open.get(change.channel)
        if batch is not None:
            # The latest change of an identity replaces the one waiting (an update after a
            # removal included); dict order keeps each identity's first place.
            batch.changes[change.identity] = change
            return True
        batch = _PresenceBatch(change)
        try:
            self._queue.put_nowait(batch)
        except asyncio.QueueFull:
            return False
        self._open[change.channel] = batch
        return True

    def put_notice(self, kind: str, frame: str) -> bool:
        """Queue `frame` unless a notice of the same `kind` is still waiting unsent."""
        if kind in self._notices:
            return True
        try:
            self._queue.put_nowait(_Notice(kind, frame))
        except asyncio.QueueFull:
            return False
        self._notices.add(kind)
        self._open.clear()
        return True

    async def get(self) -> str:
        """The next frame to send; waits for one. For the connection's writer only."""
        item = await self._queue.get()
        # No await from here on: what is taken can no longer be merged into or deduplicated.
        if isinstance(item, str):
            return item
        if isinstance(item, _Notice):
            self._notices.discard(item.kind)
            return item.frame
        if self._open.get(item.channel) is item:
            del self._open[item.channel]
        return item.frame()

    def __len__(self) -> int:
        """How many items wait (a batch counts once)."""
        return self._queue.qsize()

    def __repr__(self) -> str:
        return f"<Outbox {self._queue.qsize()}/{self._queue.maxsize}>"
