"""`RedisRevocations`: revocations shared by every gateway node on one Redis.

A revocation is one member of the sorted set `<prefix>:revoked` (its JSON, scored by the time
until which it must be kept) and one message on the Redis channel `<prefix>:revocations`, both
written in one transaction. Each node follows the channel and takes every revocation it carries
(closing its matching connections at once), and reads the set when it starts, after each
reconnection and every `resync_interval` seconds, so that a node that starts later, or missed
messages while its subscription was down, still learns every live revocation. Expired members
are removed by the next revocation. Checks stay local: each node keeps the live revocations in
memory (`MemoryRevocations`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import redis
import redis.asyncio

from sock8._backoff import Backoff
from sock8._core import Grants
from sock8.errors import PublishError
from sock8.gateway.clock import Clock
from sock8.gateway.revocations import Apply, MemoryRevocations
from sock8.redis.clients import Protocol, async_client, check_url, pubsub_client, sync_client
from sock8.redis.keys import DEFAULT_PREFIX
from sock8.revocation import Revocation

__all__ = ["RedisRevocations"]

START_TIMEOUT = 5.0
"""Seconds `RedisRevocations.start` waits for the live revocations before the node serves."""

logger = logging.getLogger("sock8.redis")


def _encode(revocation: Revocation, until: float) -> str:
    return json.dumps({**revocation.as_json(), "until": until}, sort_keys=True)


def _decode(data: bytes | str) -> tuple[Revocation, float] | None:
    """A revocation and its `until`, or `None` for bytes no sock8 node wrote."""
    try:
        body = json.loads(data)
        until = body.pop("until")
        if isinstance(until, bool) or not isinstance(until, int | float):
            return None
        return Revocation.from_json(body), float(until)
    except (ValueError, TypeError, AttributeError, KeyError):
        return None


class RedisRevocations:
    """The revocations of every gateway node on the Redis at `url`. Implements
    `sock8.gateway.RevocationStore`; give one to each node (`Gateway(revocations=...)`).

    Arguments:
        url: `redis://`, `rediss://` or `unix://`.
        prefix: of the key and channel; the same for every node of one deployment.
        protocol: RESP version, 2 or 3.
        resync_interval: seconds between two readings of the set, which catch what a silent
            subscription missed.
        backoff: reconnect delays of the subscription.

    Raises:
        ConfigError: not a Redis URL.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        protocol: Protocol = 2,
        resync_interval: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        check_url(url)
        self.url = url
        self.key = f"{prefix}:revoked"
        """The sorted set of live revocations."""
        self.channel = f"{prefix}:revocations"
        """The Redis channel that carries new ones."""
        self._protocol = protocol
        self._resync = resync_interval
        self._backoff = Backoff() if backoff is None else backoff
        self._local = MemoryRevocations()
        # Members already taken, and until when: each is applied once per node.
        self._taken: dict[str, float] = {}
        self._sync: redis.Redis | None = None
        self._clock: Clock | None = None
        self._apply: Apply | None = None
        self._task: asyncio.Task[None] | None = None
        self._loaded: asyncio.Event | None = None

    # Local, as `MemoryRevocations`.

    def revoked(self, grants: Grants, now: float) -> bool:
        """See `RevocationStore.revoked`."""
        return self._local.revoked(grants, now)

    def add(self, revocation: Revocation, until: float, now: float) -> None:
        """See `RevocationStore.add`."""
        self._local.add(revocation, until, now)

    # Between the nodes.

    def share(self, revocation: Revocation, until: float) -> None:
        """Write it to the set and the channel, in one transaction (blocking).

        Raises:
            PublishError: Redis could not be reached.
        """
        member = _encode(revocation, until)
        self._taken[member] = until
        if self._sync is None:
            self._sync = sync_client(self.url, self._protocol)
        try:
            with self._sync.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(self.key, "-inf", self._now())
                pipe.zadd(self.key, {member: until})
                pipe.publish(self.channel, member)
                pipe.execute()
        except redis.RedisError as exc:
            self._taken.pop(member, None)
            raise PublishError(f"could not share the revocation through Redis: {exc}") from exc

    async def ashare(self, revocation: Revocation, until: float) -> None:
        """The async twin of `share` (in a worker thread)."""
        await asyncio.to_thread(self.share, revocation, until)

    async def start(self, clock: Clock, apply: Apply) -> None:
        """Read the live revocations, then follow new ones on the running loop.

        Returns once the live ones are read, so that a node that starts later refuses revoked
        tokens from its first connection; when Redis cannot be reached within `START_TIMEOUT`,
        it starts anyway (as it serves without the broker) and reads them once Redis answers.
        """
        self._clock = clock
        self._apply = apply
        if self._task is None:
            self._loaded = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), name="sock8-redis-revocations"
            )
        loaded = self._loaded
        if loaded is not None and not loaded.is_set():
            try:
                async with asyncio.timeout(START_TIMEOUT):
                    await loaded.wait()
            except TimeoutError:
                logger.warning("redis: live revocations not read yet; starting without them")

    async def stop(self) -> None:
        """Stop following; close the connections."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._sync = self._sync, None
        if client is not None:
            client.close()

    def _now(self) -> float:
        return time.time() if self._clock is None else self._clock.time()

    def _take(self, member: bytes | str) -> None:
        text = member.decode() if isinstance(member, bytes) else member
        if text in self._taken or self._apply is None:
            return
        decoded = _decode(text)
        if decoded is None:
            logger.error("dropped an undecodable revocation on %s", self.channel)
            return
        revocation, until = decoded
        if until <= self._now():
            return
        self._taken[text] = until
        self._apply(revocation, until)

    async def _load(self, client: redis.asyncio.Redis) -> None:
        now = self._now()
        self._taken = {member: until for member, until in self._taken.items() if until > now}
        for member in await client.zrangebyscore(self.key, f"({now}", "+inf"):
            if isinstance(member, bytes | str):  # without WITHSCORES, each member alone
                self._take(member)

    async def _follow(self) -> None:
        attempt = 0
        up = False
        loop = asyncio.get_running_loop()
        while True:
            up_since: float | None = None
            subscriber = pubsub_client(self.url, self._protocol)
            pubsub = subscriber.pubsub()
            client = async_client(self.url, self._protocol)
            try:
                # Subscribed first, then read: a revocation written between the two is in both,
                # and taken once.
                await pubsub.subscribe(self.channel)
                await self._load(client)
                if self._loaded is not None:
                    self._loaded.set()
                if not up:
                    logger.info("redis: following revocations")
                up, up_since = True, loop.time()
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self._resync
                    )
                    if message is None:
                        await self._load(client)
                    elif message.get("type") == "message":
                        self._take(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # One line per transition, as the subscriber does: a first failure (or a bug
                # in loading) must not be retried in silence.
                if up:
                    logger.warning("redis: revocations not followed (%s); reconnecting", exc)
                elif attempt == 0:
                    logger.warning("redis: cannot follow revocations (%s); retrying", exc)
                else:
                    logger.debug("redis: cannot follow revocations (%s); retrying", exc)
                up = False
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await subscriber.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            # As the subscriber does: only a connection that stayed up starts the backoff over,
            # so that a Redis that accepts and drops at once is not retried at once.
            if up_since is not None and loop.time() - up_since >= self._backoff.reset_after:
                attempt = 0
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    def __len__(self) -> int:
        """Revocations this node holds (see `MemoryRevocations`)."""
        return len(self._local)

    def __repr__(self) -> str:
        return f"RedisRevocations(key={self.key!r})"
