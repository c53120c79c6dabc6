"""A connection's send queue: bounded in bytes, with presence updates coalesced and notices not
repeated.

The queue holds written frames and two kinds of items that are written only when the connection's
writer takes them:

- A *presence batch*: the presence changes of one channel waiting to be sent, the latest per
  identity. A change for a channel whose batch still waits is merged into that batch instead of
  taking another place, as long as no other kind of frame was queued after the batch: presence
  updates then never overtake, nor fall behind, any other frame, and a flood of presence changes
  takes one place per channel, however many arrive before the client reads.
- A *notice*: an error frame that is queued only when no notice of its kind is waiting unsent
  (`rate_limited`): refusing a flood must not itself fill the flooder's queue.

The bound is in bytes: the UTF-8 size of what waits (a batch counts the frames of the changes it
holds), plus, when the queue is not empty, what the server's transport still buffers (`buffered`,
as its transport tells). An item that would take the total past the limit is
refused (the connection is then a slow consumer), except into an empty queue: one frame larger
than the limit is still sent to a client that keeps up.

Frames are UTF-8 bytes (one message's bytes are shared by every connection that queues them).
Nothing here awaits: the session takes items when its transport can take them again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sock8.gateway.frames import dumps
from sock8.gateway.presence import PresenceEntry

__all__ = ["Outbox", "PresenceChange", "encode"]


def encode(frame: str) -> bytes:
    """A frame's UTF-8 bytes, as a transport writes them."""
    return frame.encode()


class PresenceChange:
    """One identity's presence change on one channel, as broadcast to the channel's subscribers.

    Its frame is written and encoded on first use and shared by every connection that sends it
    unmerged: a change is serialized once, whatever the number of subscribers.

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
        self._frame: bytes | None = None

    @property
    def size(self) -> int:
        """The UTF-8 size of `frame`, what a waiting change counts in a queue."""
        return len(self.frame)

    @property
    def frame(self) -> bytes:
        """The `presenceUpdate` frame carrying only this change, UTF-8."""
        if self._frame is None:
            self._frame = encode(_presence_update(self.channel, [self]))
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

    __slots__ = ("changes", "channel", "size")

    def __init__(self, change: PresenceChange) -> None:
        self.channel = change.channel
        self.changes = {change.identity: change}
        self.size = change.size

    def frame(self) -> bytes:
        if len(self.changes) == 1:
            (change,) = self.changes.values()
            return change.frame
        return encode(_presence_update(self.channel, list(self.changes.values())))


class _Notice:
    __slots__ = ("frame", "kind", "size")

    def __init__(self, kind: str, frame: bytes) -> None:
        self.kind = kind
        self.frame = frame
        self.size = len(frame)


_Frame = bytes
_Item = _Frame | _PresenceBatch | _Notice


class Outbox:
    """A queue of frames for one connection, bounded in bytes (see the module).

    Every `put...` returns `False` when the item does not fit (the connection is then a slow
    consumer); a merged presence change or a notice left out takes no place, and returns `True`.

    Arguments:
        limit: how many bytes may wait unsent.
        buffered: what the connection's transport still holds, counted with the queue when the
            queue is not empty; `None` when it cannot be read.
    """

    __slots__ = ("_buffered", "_bytes", "_limit", "_notices", "_open", "items")

    def __init__(self, limit: int, buffered: Callable[[], int] | None = None) -> None:
        self.items: deque[_Item] = deque()
        """What waits, in order; read-only outside (a truth test is the cheapest "is anything
        waiting?" on the delivery path)."""
        self._bytes = 0
        self._limit = limit
        self._buffered = buffered
        # Batches that may still take changes: waiting, with only presence queued after them.
        self._open: dict[str, _PresenceBatch] = {}
        self._notices: set[str] = set()

    @property
    def bytes(self) -> int:
        """The UTF-8 bytes waiting in the queue (the transport's buffer not included)."""
        return self._bytes

    def _fits(self, size: int) -> bool:
        if not self.items:
            return True
        total = self._bytes + size
        if self._buffered is not None:
            total += self._buffered()
        return total <= self._limit

    def _append(self, item: _Item, size: int) -> None:
        self.items.append(item)
        self._bytes += size

    def put(self, frame: _Frame) -> bool:
        """Queue a written frame."""
        size = len(frame)
        if not self._fits(size):
            return False
        self._append(frame, size)
        # Changes made from now on must not be sent ahead of this frame.
        self._open.clear()
        return True

    def put_presence(self, change: PresenceChange) -> bool:
        """Queue a presence change, merged into its channel's waiting batch when there is one."""
        batch = self._open.get(change.channel)
        if batch is not None:
            # The latest change of an identity replaces the one waiting (an update after a
            # removal included); dict order keeps each identity's first place.
            previous = batch.changes.get(change.identity)
            grown = change.size - (0 if previous is None else previous.size)
            if grown > 0 and not self._fits(grown):
                return False
            batch.changes[change.identity] = change
            batch.size += grown
            self._bytes += grown
            return True
        batch = _PresenceBatch(change)
        if not self._fits(batch.size):
            return False
        self._append(batch, batch.size)
        self._open[change.channel] = batch
        return True

    def put_notice(self, kind: str, frame: _Frame) -> bool:
        """Queue `frame` unless a notice of the same `kind` is still waiting unsent."""
        if kind in self._notices:
            return True
        notice = _Notice(kind, frame)
        if not self._fits(notice.size):
            return False
        self._append(notice, notice.size)
        self._notices.add(kind)
        self._open.clear()
        return True

    def take(self) -> _Frame | None:
        """The next frame to send, or `None` when the queue is empty."""
        if not self.items:
            return None
        item = self.items.popleft()
        # What is taken can no longer be merged into or deduplicated.
        if isinstance(item, bytes):
            self._bytes -= len(item)
            return item
        self._bytes -= item.size
        if isinstance(item, _Notice):
            self._notices.discard(item.kind)
            return item.frame
        if self._open.get(item.channel) is item:
            del self._open[item.channel]
        return item.frame()

    def clear(self) -> None:
        """Drop everything waiting (a slow consumer's queue, once it is being closed)."""
        self.items.clear()
        self._open.clear()
        self._notices.clear()
        self._bytes = 0

    def __bool__(self) -> bool:
        """Whether anything waits."""
        return bool(self.items)

    def __len__(self) -> int:
        """How many items wait (a batch counts once)."""
        return len(self.items)

    def __repr__(self) -> str:
        return f"<Outbox {len(self.items)} items, {self._bytes}/{self._limit} bytes>"
