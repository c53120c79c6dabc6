"""Presence: who is on a channel, with a small data object per identity.

An identity's entry is shared by all its connections (several tabs of one user are one entry).
A connection becomes a *member* of a channel's presence when it sends `setPresence` there; it
stops being one when it unsubscribes, loses the grant on refresh, or disconnects. The entry is
removed when the identity's last member connection leaves.

`PresenceStore` is the interface the gateway talks to; `MemoryPresence` is the embedded store of
a one-process gateway, whose changes the gateway broadcasts to its own subscribers. A store shared
by several gateway nodes (`sock8.redis.RedisPresence`) is a `SharedPresenceStore`: it announces
every change it makes (and every expired entry it cleans) through the broker, which hands it to
the subscribers of every node, this one included, in one order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sock8.gateway.clock import Clock
    from sock8.publisher import Broker

__all__ = [
    "UNSAFE_KEYS",
    "MemoryPresence",
    "PresenceEntry",
    "PresenceStore",
    "SharedPresenceStore",
    "Validate",
    "unsafe_key",
]

Validate = Callable[[dict[str, Any]], dict[str, Any]]
"""Checks merged presence data and returns what to store; raises `ValueError` to refuse it."""

UNSAFE_KEYS = frozenset({"__proto__", "constructor", "prototype"})
"""Keys presence data may not use at any depth. Every subscriber's client merges an identity's
data into its own objects; a JavaScript merge by assignment (`target[key] = value`,
`Object.assign`) turns `__proto__` into a prototype change, and `constructor`/`prototype` are
the other half of the usual pollution gadgets."""


def unsafe_key(value: object) -> str | None:
    """The first key of `UNSAFE_KEYS` found in `value`'s objects at any depth, else `None`.

    Iterative: parsed JSON nests as deep as the parser allowed.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if key in UNSAFE_KEYS:
                    return str(key)
                if isinstance(inner, dict | list):
                    stack.append(inner)
        elif isinstance(item, list):
            stack.extend(inner for inner in item if isinstance(inner, dict | list))
    return None


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One identity's presence on one channel.

    Attributes:
        is_connected: whether the identity has a member connection (always true for entries a
            store returns; kept for sock8's frame shape).
        last_seen: the last `setPresence`, in epoch milliseconds.
        data: the merged presence data.
    """

    is_connected: bool
    last_seen: int
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The entry as sent in `presenceState` and `presenceUpdate` frames."""
        return {"isConnected": self.is_connected, "lastSeen": self.last_seen, "data": self.data}


@runtime_checkable
class PresenceStore(Protocol):
    """Where the gateway keeps presence. Every call is a coroutine, for shared stores."""

    async def update(
        self,
        channel: str,
        identity: str,
        member: str,
        data: Mapping[str, Any],
        *,
        now_ms: int,
        validate: Validate | None = None,
    ) -> PresenceEntry:
        """Merge `data` into the identity's entry (top-level keys replace) and add the
        connection `member` to it; returns the new entry.

        Raises:
            ValueError: `validate` refused the merged data; nothing is changed.
        """

    async def leave(self, channel: str, identity: str, member: str) -> bool:
        """Remove the connection `member`; `True` when that removed the identity's entry."""

    async def state(self, channel: str) -> dict[str, PresenceEntry]:
        """Every entry of `channel`, by identity."""


@runtime_checkable
class SharedPresenceStore(PresenceStore, Protocol):
    """A presence store shared by several gateway nodes. Its changes reach subscribers through
    the broker (`Broker.subscribe(..., presence=...)`), so the gateway does not broadcast them
    itself; entries of connections whose node stopped refreshing them expire."""

    def carried_by(self, broker: Broker) -> bool:
        """Whether `broker`'s subscriptions carry this store's announcements."""

    async def start(self, clock: Clock, channels: Callable[[], Iterable[str]]) -> None:
        """Start keeping this node's entries alive and cleaning expired ones, on the running
        loop, at `clock`'s time; `channels()` gives the channels with local subscribers,
        whose expired entries this node cleans (and announces)."""

    async def stop(self) -> None:
        """Stop the timers and close the connections."""


@dataclass(slots=True)
class _Record:
    data: dict[str, Any]
    last_seen: int
    members: set[str] = field(default_factory=set)

    def entry(self) -> PresenceEntry:
        return PresenceEntry(True, self.last_seen, dict(self.data))


class MemoryPresence:
    """Presence in this process's memory: what a one-process gateway uses.

    Not thread-safe: the gateway calls it from its event loop only. Memory is bounded by the
    member connections: an entry goes when its last member leaves.
    """

    def __init__(self) -> None:
        self._channels: dict[str, dict[str, _Record]] = {}

    async def update(
        self,
        channel: str,
        identity: str,
        member: str,
        data: Mapping[str, Any],
        *,
        now_ms: int,
        validate: Validate | None = None,
    ) -> PresenceEntry:
        """See `PresenceStore.update`."""
        entries = self._channels.get(channel)
        record = None if entries is None else entries.get(identity)
        merged = {**(record.data if record is not None else {}), **data}
        if validate is not None:
            merged = validate(merged)
        if record is None:
            record = _Record(merged, now_ms)
            self._channels.setdefault(channel, {})[identity] = record
        else:
            record.data = merged
            record.last_seen = now_ms
        record.members.add(member)
        return record.entry()

    async def leave(self, channel: str, identity: str, member: str) -> bool:
        """See `PresenceStore.leave`."""
        entries = self._channels.get(channel)
        record = None if entries is None else entries.get(identity)
        if entries is None or record is None or member not in record.members:
            return False
        record.members.discard(member)
        if record.members:
            return False
        del entries[identity]
        if not entries:
            del self._channels[channel]
        return True

    async def state(self, channel: str) -> dict[str, PresenceEntry]:
        """See `PresenceStore.state`."""
        entries = self._channels.get(channel, {})
        return {identity: record.entry() for identity, record in entries.items()}

    def __len__(self) -> int:
        """How many channels have presence entries (for tests and metrics)."""
        return len(self._channels)

    def __repr__(self) -> str:
        return f"MemoryPresence(channels={len(self._channels)})"
