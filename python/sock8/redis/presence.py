"""`RedisPresence`: presence shared by every gateway node through Redis, with expiry."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio

from sock8.errors import ConfigError
from sock8.gateway.presence import PresenceEntry, Validate
from sock8.redis.broker import RedisBroker
from sock8.redis.clients import Protocol, async_client, check_url
from sock8.redis.keys import DEFAULT_PREFIX, Keys, presence_event
from sock8.redis.scripts import (
    PRESENCE_LEAVE,
    PRESENCE_REFRESH,
    PRESENCE_STATE,
    PRESENCE_SWEEP,
    PRESENCE_UPDATE,
)

if TYPE_CHECKING:
    from sock8.gateway.clock import Clock, Timer
    from sock8.publisher import Broker

__all__ = ["RedisPresence"]

logger = logging.getLogger("sock8.redis")

_ATTEMPTS = 8
"""Merges retried when another node changed the same entry in between."""
_PIPELINE = 500
"""Scripts per round trip in a refresh round."""


class PresenceConflict(RuntimeError):
    """The entry kept changing under a merge: too many writers at once."""


class RedisPresence:
    """A `SharedPresenceStore` in Redis: every node sees the same entries, and every change
    (a `setPresence`, a last connection leaving, an entry expiring) is announced on the
    channel's Redis channel, so that it reaches the subscribers of every node as a
    `presenceUpdate`, in the order Redis applied it.

    An identity's entry lives while any of its connections, on any node, is a member. Each
    membership expires `ttl` seconds after it was last refreshed; each node refreshes its own
    members every `refresh` seconds, so only the members of a node that died (SIGKILL, lost
    machine) expire, within `ttl`. The node that cleans an expired entry announces its removal.
    Expiry times come from the gateway's clock, and cleaning happens on every `refresh` round
    (for the channels with local subscribers) and before every `state` read.

    Use it with a `RedisBroker` of the same `prefix` on the same Redis (which carries the
    announcements); the gateway refuses another broker.

    Arguments:
        url: the Redis URL.
        prefix: the first part of every key; the broker's.
        ttl: seconds a membership lives without a refresh.
        refresh: seconds between refresh rounds; default a third of `ttl`.
        protocol: the RESP version, sent explicitly.

    Raises:
        ConfigError: `ttl` or `refresh` out of range (`refresh` must be below `ttl`).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl: float = 60.0,
        refresh: float | None = None,
        protocol: Protocol = 2,
    ) -> None:
        check_url(url)
        if not ttl >= 1:
            raise ConfigError(f"ttl must be at least 1 second, not {ttl!r}")
        refresh = ttl / 3 if refresh is None else refresh
        if not 0 < refresh < ttl:
            raise ConfigError(f"refresh must be positive and below ttl ({ttl}), not {refresh!r}")
        if protocol not in (2, 3):
            raise ConfigError(f"protocol must be 2 or 3, not {protocol!r}")
        self.url = url
        self.keys = Keys(prefix)
        self.ttl = float(ttl)
        self.refresh = float(refresh)
        self._protocol: Protocol = protocol
        # Redis drops the keys of a channel nobody refreshed for long (every node gone).
        self._key_ttl = max(1, int(self.ttl * 2))
        self._client: redis.asyncio.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._now: Callable[[], float] = time.time
        self._channels: Callable[[], Iterable[str]] = tuple
        self._timer: Timer | None = None
        self._clock: Clock | None = None
        self._round: asyncio.Task[None] | None = None
        self._failing = False
        self._stopped = False
        # This node's members: channel -> connection id -> identity.
        self._members: dict[str, dict[str, str]] = {}
        self.rounds = 0
        """Refresh rounds completed (for tests and metrics)."""

    def carried_by(self, broker: Broker) -> bool:
        """Whether `broker` is a `RedisBroker` of the same prefix."""
        return isinstance(broker, RedisBroker) and broker.keys.prefix == self.keys.prefix

    # The PresenceStore calls.

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
        """See `PresenceStore.update`; the merge is retried if another node changed the entry
        in between.

        Raises:
            ValueError: `validate` refused the merged data; nothing is changed.
            redis.RedisError: Redis could not be reached.
        """
        keys = self.keys.presence_announced(channel)
        script = self._script(PRESENCE_UPDATE)
        client = self._redis()
        expires = now_ms + int(self.ttl * 1000)
        for _ in range(_ATTEMPTS):
            before = await client.hget(keys[0], identity)
            current: dict[str, Any] = {}
            if before is not None:
                stored = json.loads(before)
                current = stored.get("data", {}) if isinstance(stored, dict) else {}
            merged = {**current, **data}
            if validate is not None:
                merged = validate(merged)
            entry = json.dumps(
                {"lastSeen": now_ms, "data": merged}, separators=(",", ":"), ensure_ascii=False
            )
            args = [
                identity,
                member,
                b"" if before is None else before,
                entry,
                expires,
                self._key_ttl,
                presence_event(identity, entry),
            ]
            if await script(keys=keys, args=args):
                self._members.setdefault(channel, {})[member] = identity
                return PresenceEntry(True, now_ms, merged)
        raise PresenceConflict(f"the presence of {identity!r} on {channel!r} kept changing")

    async def leave(self, channel: str, identity: str, member: str) -> bool:
        """See `PresenceStore.leave`. The member is forgotten here even when Redis cannot be
        reached: then its entry expires within `ttl`."""
        members = self._members.get(channel)
        if members is not None:
            members.pop(member, None)
            if not members:
                del self._members[channel]
        keys = self.keys.presence_announced(channel)
        removed = await self._script(PRESENCE_LEAVE)(
            keys=keys, args=[identity, member, presence_event(identity, None)]
        )
        return bool(removed)

    async def state(self, channel: str) -> dict[str, PresenceEntry]:
        """See `PresenceStore.state`; expired entries are cleaned (and announced) first."""
        keys = self.keys.presence_announced(channel)
        now_ms = int(self._now() * 1000)
        flat = await self._script(PRESENCE_STATE)(keys=keys, args=[now_ms])
        state: dict[str, PresenceEntry] = {}
        for index in range(0, len(flat) - 1, 2):
            stored = json.loads(flat[index + 1])
            state[flat[index].decode()] = PresenceEntry(True, stored["lastSeen"], stored["data"])
        return state

    # Refresh rounds.

    async def start(self, clock: Clock, channels: Callable[[], Iterable[str]]) -> None:
        """See `SharedPresenceStore.start`."""
        self._stopped = False
        self._clock = clock
        self._now = clock.time
        self._channels = channels
        self._redis()
        self._schedule()

    async def stop(self) -> None:
        """See `SharedPresenceStore.stop`. Later calls raise `ConnectionError` (as if Redis
        were unreachable) until `start`: no connection is opened that nothing would close."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._clock = None
        task, self._round = self._round, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        client, self._client = self._client, None
        self._scripts = {}
        if client is not None:
            await client.aclose()

    def _schedule(self) -> None:
        clock = self._clock
        if clock is not None:
            self._timer = clock.call_at(clock.time() + self.refresh, self._tick)

    def _tick(self) -> None:
        if self._clock is None:
            return
        if self._round is None or self._round.done():
            self._round = asyncio.get_running_loop().create_task(self.keep_alive())
        self._schedule()

    async def keep_alive(self) -> None:
        """One refresh round, now: extend this node's memberships by `ttl`, then clean the
        expired entries of the channels with local members or subscribers (the gateway's
        timer runs it every `refresh` seconds)."""
        now_ms = int(self._now() * 1000)
        expires = now_ms + int(self.ttl * 1000)
        # Pipelined, a batch at a time: one round trip per batch, however many channels.
        calls: list[tuple[str, list[str], list[object]]] = [
            (PRESENCE_REFRESH, self.keys.presence(channel), [expires, self._key_ttl, *members])
            for channel, members in list(self._members.items())
        ]
        calls += [
            (PRESENCE_SWEEP, self.keys.presence_announced(channel), [now_ms])
            for channel in {*self._members, *self._channels()}
        ]
        removed = 0
        try:
            client = self._redis()
            for start in range(0, len(calls), _PIPELINE):
                async with client.pipeline(transaction=False) as pipe:
                    for source, keys, args in calls[start : start + _PIPELINE]:
                        await self._script(source)(keys=keys, args=args, client=pipe)
                    results = await pipe.execute()
                removed += sum(len(result) for result in results if isinstance(result, list))
        except redis.RedisError as exc:
            if not self._failing:
                logger.warning("presence: cannot refresh in Redis (%s)", exc)
            self._failing = True
            return
        finally:
            self.rounds += 1
        if removed:
            logger.info("presence: %d expired entries removed", removed)
        if self._failing:
            logger.info("presence: refreshing in Redis again")
        self._failing = False

    def _redis(self) -> redis.asyncio.Redis:
        if self._stopped:
            raise redis.ConnectionError("the presence store is stopped")
        if self._client is None:
            self._client = async_client(self.url, self._protocol)
            self._scripts = {}
        return self._client

    def _script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._redis().register_script(source)
        return script

    def __repr__(self) -> str:
        return f"RedisPresence(prefix={self.keys.prefix!r}, ttl={self.ttl})"
