"""`RedisBroker`: fan-out and history shared by every gateway node through Redis."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import redis
import redis.asyncio

from sock8._backoff import Backoff
from sock8.errors import ConfigError, PublishError
from sock8.publisher import (
    Deliver,
    HistoryPage,
    Message,
    Missed,
    Position,
    PresenceDeliver,
    check_payload,
)
from sock8.redis.clients import Protocol, async_client, check_url, sync_client
from sock8.redis.keys import DEFAULT_PREFIX, Keys, decode_event, decode_numbered, message_event
from sock8.redis.scripts import MISSED, POSITION, PUBLISH
from sock8.redis.subscriber import Subscriber

__all__ = ["RedisBroker", "RedisSubscription"]

logger = logging.getLogger("sock8.redis")

_STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")

READY_TIMEOUT = 2.0
"""Seconds `RedisSubscription.ready` waits for Redis to confirm a subscription."""

DEFAULT_BACKOFF = Backoff(base=0.2, cap=5.0, reset_after=30.0)
"""Reconnect delays of the subscription: full jitter, at most 5 s apart."""


class RedisSubscription:
    """A `Subscription` of `RedisBroker`."""

    __slots__ = ("_broker", "active", "channel", "deliver", "loop", "presence")

    def __init__(
        self,
        broker: RedisBroker,
        channel: str,
        deliver: Deliver,
        presence: PresenceDeliver | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self._broker = broker
        self.channel = channel
        self.deliver = deliver
        self.presence = presence
        self.loop = loop
        self.active = True

    async def ready(self) -> None:
        """Wait (at most `READY_TIMEOUT` seconds) until Redis confirmed the node's
        subscription of the channel: the node subscribes after `subscribe` returned, and
        what is published before that does not reach it."""
        await self._broker._ready(self.channel)

    def close(self) -> None:
        """Stop deliveries; idempotent. The node unsubscribes from Redis with the last one."""
        if self.active:
            self.active = False
            self._broker._unsubscribe(self)

    def __repr__(self) -> str:
        return f"<RedisSubscription {self.channel!r} {'active' if self.active else 'closed'}>"


def _dispatch(batch: tuple[RedisSubscription, ...], event: Message | tuple[str, Any]) -> None:
    for subscription in batch:
        if not subscription.active:
            continue
        try:
            if isinstance(event, Message):
                subscription.deliver(event)
            elif subscription.presence is not None:
                subscription.presence(*event)
        except Exception:
            logger.exception("a subscriber of %s raised", subscription.channel)


class RedisBroker:
    """A `sock8.Broker` and `HistoryStore` over Redis: any number of gateway processes, on any
    number of machines, deliver what any of them (or the app) publishes.

    Each sock8 channel is one Redis pub/sub channel, which a node subscribes to while it has
    local subscribers of that channel (batched SUBSCRIBE), so a node reads only its own
    traffic; a message is decoded once per node. History is one Stream per channel, capped at
    `history_size` entries, written and published in one Lua script; pages go newest first
    with opaque cursors. Every key carries the wire id as a hash tag (`{id}`).

    Publishing needs no `start`: `s8.publisher = RedisBroker(url)` makes `emit` (sync, through
    a blocking client, from any thread or loop) and `aemit` publish straight to Redis.
    Subscribing needs the broker started on the event loop that reads (the gateway starts and
    stops it with the app). When Redis cannot be reached, `publish`, `apublish` and the
    history calls raise `PublishError` at once (nothing is queued), `status` says
    `"unavailable"`, and the subscription reconnects with capped, jittered backoff and
    resubscribes every local channel by itself. It is `Recoverable`: a message stored in a
    channel's history gets the next offset of the channel, and the stream an epoch, in the same
    script; a stream whose state is gone from Redis (expired, flushed, a restart without
    persistence) starts a new epoch. Without history, delivery is at-most-once: what is
    published while a node's subscription is down does not reach that node's clients.

    Arguments:
        url: `redis://[:password@]host:port/db` (or `rediss://`, `unix://`).
        prefix: the first part of every key and Redis channel; nodes sharing state must use
            the same.
        history_size: messages kept per channel (the gateway's `--history-size`).
        history_ttl: seconds a channel's history outlives its last message; `None`: forever.
        protocol: the RESP version (2, or 3 for Redis 6+); always sent explicitly.
        probe_interval: the subscription is probed when an interval of this many seconds
            passes without traffic, and declared dead when the probe does not come back
            within the next.
        backoff: reconnect delays of the subscription.
        clock: epoch seconds, for message timestamps.

    Raises:
        ConfigError: a setting out of range.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        history_size: int = 100,
        history_ttl: float | None = 7 * 24 * 3600,
        protocol: Protocol = 2,
        probe_interval: float = 30.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_url(url)
        if not history_size >= 1:
            raise ConfigError(f"history_size must be at least 1, not {history_size!r}")
        if history_ttl is not None and not history_ttl >= 1:
            raise ConfigError(f"history_ttl must be at least 1 second, not {history_ttl!r}")
        if protocol not in (2, 3):
            raise ConfigError(f"protocol must be 2 or 3, not {protocol!r}")
        if not probe_interval > 0:
            raise ConfigError(f"probe_interval must be positive, not {probe_interval!r}")
        self.url = url
        self.keys = Keys(prefix)
        self.node = uuid.uuid4().hex
        """This broker's node id: its probe channel's name."""
        self._history_size = history_size
        self._history_ttl = 0 if history_ttl is None else int(history_ttl)
        self._protocol: Protocol = protocol
        self._probe_interval = probe_interval
        self._backoff = backoff
        self._clock = clock
        self._lock = threading.Lock()
        self._sync: redis.Redis | None = None
        self._sync_publish: Any = None
        self._async: redis.asyncio.Redis | None = None
        self._async_publish: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscriber: Subscriber | None = None
        # wire id -> its subscriptions, and the Redis channel back to the wire id.
        self._index: dict[str, dict[RedisSubscription, None]] = {}
        self._by_redis: dict[bytes, str] = {}
        # The last stored message this node received of each subscribed channel: where a
        # resync after a lost subscription starts.
        self.delivered: dict[str, Position] = {}
        # Channels being resynced after a lost subscription, and their live messages held
        # back meanwhile.
        self._resyncing: dict[str, list[Message]] = {}
        self._resync_tasks: set[asyncio.Task[None]] = set()
        self._scripts: dict[str, Any] = {}

    # Publishing.

    def publish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """Publish `payload` to every node's subscribers of `channel`; store it when `persist`.

        Blocks for one round trip to Redis; works from any thread, and from inside a running
        event loop (it does not use the loop).

        Raises:
            ValueError: `payload` is not exactly one JSON value; nothing was published.
            PublishError: Redis could not be reached or refused the command.
        """
        check_payload(channel, payload)
        stamp = int(self._clock() * 1000)
        client, script = self._blocking()
        try:
            if persist:
                script(keys=self._publish_keys(channel), args=self._publish_args(stamp, payload))
            else:
                client.publish(self.keys.channel(channel), message_event(stamp, payload))
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc

    async def apublish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        """The async twin of `publish`: on the broker's own loop through its async client,
        elsewhere in a worker thread (a client is bound to one loop).

        Raises:
            ValueError: `payload` is not exactly one JSON value; nothing was published.
            PublishError: Redis could not be reached or refused the command.
        """
        clients = self._async_clients()
        if clients is None:
            await asyncio.to_thread(self.publish, channel, payload, persist=persist)
            return
        check_payload(channel, payload)
        client, script = clients
        stamp = int(self._clock() * 1000)
        try:
            if persist:
                await script(
                    keys=self._publish_keys(channel), args=self._publish_args(stamp, payload)
                )
            else:
                await client.publish(self.keys.channel(channel), message_event(stamp, payload))
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc

    def _publish_keys(self, channel: str) -> list[str]:
        return [self.keys.history(channel), self.keys.channel(channel), self.keys.stream(channel)]

    def _publish_args(self, stamp: int, payload: str) -> list[object]:
        return [stamp, payload, self._history_size, self._history_ttl, _new_epoch()]

    # Recovery.

    async def apositions(self, channels: list[str]) -> dict[str, Position]:
        """Each channel's current position (a channel without a stream gets an epoch).

        Raises:
            PublishError: Redis could not be reached.
        """
        calls: list[tuple[list[str], list[str | int]]] = [
            (self._publish_keys(channel), [_new_epoch(), self._history_ttl]) for channel in channels
        ]
        positions: dict[str, Position] = {}
        for channel, (epoch, offset) in zip(
            channels, await self._run(POSITION, calls), strict=True
        ):
            position = positions[channel] = Position(int(offset), _text(epoch))
            if channel in self._index:
                # Read once the node holds the channel (the gateway waits for that): where a
                # resync would start if nothing is delivered before the subscription drops.
                self.delivered.setdefault(channel, position)
        return positions

    async def amissed(self, channel: str, since: Position) -> Missed:
        """The stored messages of `channel` after `since`, oldest first, when the stream still
        holds all of them in `since.epoch`.

        Raises:
            PublishError: Redis could not be reached.
        """
        args: list[str | int] = [_new_epoch(), self._history_ttl, self._history_size]
        [(epoch, offset, entries)] = await self._run(MISSED, [(self._publish_keys(channel), args)])
        position = Position(int(offset), _text(epoch))

        def stored() -> Iterator[Message]:
            for _, fields in reversed(entries):
                values = {_text(key): _text(value) for key, value in _pairs(fields)}
                number = int(values.get("o", "0"))
                yield Message(channel, values["p"], int(values["t"]), number, position.epoch)

        return Missed.after(since, position, stored())

    async def _run(self, source: str, calls: list[tuple[list[str], list[str | int]]]) -> list[Any]:
        """The script `source` called with each `(keys, args)` of `calls`, in one round trip
        (a pipeline when there are several), in order."""
        # Through the blocking client in a worker thread: these reads come once per connection
        # or recovery, not per message, and need no connection bound to a loop that a mounted
        # gateway may never stop.
        client, _ = self._blocking()
        script = self._scripts.get(source)
        if script is None or script.registered_client is not client:
            script = self._scripts[source] = client.register_script(source)

        def run() -> list[Any]:
            if len(calls) == 1:
                keys, args = calls[0]
                return [script(keys=keys, args=args)]
            with client.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    script(keys=keys, args=args, client=pipe)
                return pipe.execute()

        try:
            return await asyncio.to_thread(run)
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc

    # History.

    def history(self, channel: str, *, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        """Up to `limit` stored messages of `channel`, newest first, at or before `cursor`.

        Raises:
            ValueError: `limit` below 1, or a `cursor` this broker did not issue.
            PublishError: Redis could not be reached.
        """
        upto = _check_query(limit, cursor)
        client, _ = self._blocking()
        try:
            entries = client.xrevrange(self.keys.history(channel), upto, "-", count=limit + 1)
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return _page(channel, entries, limit)

    async def ahistory(
        self, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        """The async twin of `history`."""
        clients = self._async_clients()
        if clients is None:
            return await asyncio.to_thread(self.history, channel, limit=limit, cursor=cursor)
        upto = _check_query(limit, cursor)
        try:
            key = self.keys.history(channel)
            entries = await clients[0].xrevrange(key, upto, "-", count=limit + 1)
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return _page(channel, entries, limit)

    # Subscribing.

    def subscribe(
        self,
        channel: str,
        deliver: Deliver,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        presence: PresenceDeliver | None = None,
    ) -> RedisSubscription:
        """Call `deliver(message)` for every message published to `channel` by any node from
        now on, and `presence(identity, entry)` for every presence change a `RedisPresence`
        of the same prefix makes there. With `loop`, both run on that loop; without, on the
        broker's. The first subscription of a channel subscribes the node in Redis."""
        subscription = RedisSubscription(self, channel, deliver, presence, loop)
        with self._lock:
            group = self._index.get(channel)
            first = group is None
            if group is None:
                group = self._index[channel] = {}
                self._by_redis[self.keys.channel(channel).encode()] = channel
            group[subscription] = None
        if first:
            self._on_loop(self._want, channel)
        return subscription

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions `channel` has on this node (for tests and metrics)."""
        with self._lock:
            return len(self._index.get(channel, ()))

    def _unsubscribe(self, subscription: RedisSubscription) -> None:
        channel = subscription.channel
        with self._lock:
            group = self._index.get(channel)
            if group is None:
                return
            group.pop(subscription, None)
            if group:
                return
            del self._index[channel]
            self.delivered.pop(channel, None)
            del self._by_redis[self.keys.channel(channel).encode()]
        self._on_loop(self._unwant, channel)

    async def _ready(self, channel: str) -> None:
        subscriber = self._subscriber
        if subscriber is None or self._async_clients() is None:
            return  # not started, or not on the broker's loop: nothing to wait for there
        await subscriber.held(self.keys.channel(channel), READY_TIMEOUT)

    def _want(self, channel: str) -> None:
        # Checked again on the loop: the channel may have gone again in between.
        if self._subscriber is not None and channel in self._index:
            self._subscriber.want(self.keys.channel(channel))

    def _unwant(self, channel: str) -> None:
        if self._subscriber is not None and channel not in self._index:
            self._subscriber.unwant(self.keys.channel(channel))

    def _on_loop(self, function: Callable[[str], None], channel: str) -> None:
        loop = self._loop
        if loop is None:
            return  # `start` subscribes the whole index
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            function(channel)
        else:
            try:
                loop.call_soon_threadsafe(function, channel)
            except RuntimeError:
                logger.debug("the broker's loop has closed")

    def _received(self, redis_channel: bytes, data: bytes) -> None:
        channel = self._by_redis.get(redis_channel)
        if channel is None:
            return  # unsubscribed while the message was on its way
        numbered = decode_numbered(data)
        if numbered is not None:
            offset, epoch, stamp, payload = numbered
            message = Message(channel, payload, stamp, offset, epoch)
            held = self._resyncing.get(channel)
            if held is not None:
                held.append(message)
                return
            self.delivered[channel] = Position(offset, epoch)
            self._hand_out(channel, message)
            return
        event = decode_event(data)
        if event is None:
            logger.error("dropped an undecodable event on %s", channel)
            return
        first, second = event
        item: Message | tuple[str, Any] = (
            Message(channel, str(second), first) if isinstance(first, int) else (first, second)
        )
        self._hand_out(channel, item)

    def _hand_out(self, channel: str, item: Message | tuple[str, Any]) -> None:
        """Hand an event to the channel's subscriptions, each on its loop."""
        with self._lock:
            group = tuple(self._index.get(channel, ()))
        groups: dict[asyncio.AbstractEventLoop | None, list[RedisSubscription]] = {}
        for subscription in group:
            groups.setdefault(subscription.loop, []).append(subscription)
        for loop, subscriptions in groups.items():
            batch = tuple(subscriptions)
            if loop is None or loop is self._loop:
                _dispatch(batch, item)
                continue
            try:
                loop.call_soon_threadsafe(_dispatch, batch, item)
            except RuntimeError:
                logger.debug("dropped an event for %s: its event loop is closed", channel)

    # Life.

    async def start(self) -> None:
        """Start subscribing on the running loop (what the gateway's startup calls): the node
        subscribes every channel of its index, then follows it. Idempotent."""
        if self._subscriber is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._subscriber = Subscriber(
            self.url,
            self._protocol,
            probe=self.keys.probe(self.node),
            send_probe=self._send_probe,
            on_message=self._received,
            probe_interval=self._probe_interval,
            backoff=self._backoff,
            on_reconnect=self._reconnected,
        )
        with self._lock:
            channels = list(self._index)
        for channel in channels:
            self._subscriber.want(self.keys.channel(channel))
        self._subscriber.start()

    async def stop(self) -> None:
        """Stop subscribing and close the connections of the loop (the gateway's shutdown)."""
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            await subscriber.stop()
        for task in list(self._resync_tasks):
            task.cancel()
        await asyncio.gather(*self._resync_tasks, return_exceptions=True)
        client, self._async = self._async, None
        self._async_publish = None
        self._loop = None
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        """Close the blocking client's connections (an app's publisher at its exit)."""
        with self._lock:
            client, self._sync = self._sync, None
            self._sync_publish = None
        if client is not None:
            client.close()

    @property
    def history_size(self) -> int:
        """Messages kept per channel."""
        return self._history_size

    @property
    def status(self) -> Literal["ok", "unavailable"]:
        """`"ok"` while the node's subscription to Redis is up, else `"unavailable"`."""
        subscriber = self._subscriber
        return "ok" if subscriber is not None and subscriber.available else "unavailable"

    @property
    def subscriber(self) -> Subscriber | None:
        """The node's pub/sub connection once started (for tests and metrics)."""
        return self._subscriber

    def _reconnected(self) -> None:
        """The subscription is back: what this node's subscribers missed meanwhile is fetched
        from the history and handed to them, in order, before the live messages."""
        channels = [channel for channel in self.delivered if channel not in self._resyncing]
        if not channels:
            return
        for channel in channels:
            self._resyncing[channel] = []
        task = asyncio.get_running_loop().create_task(self._resync(channels))
        self._resync_tasks.add(task)
        task.add_done_callback(self._resync_tasks.discard)

    async def _resync(self, channels: list[str]) -> None:
        for channel in channels:
            missed: tuple[Message, ...] = ()
            try:
                subscriber = self._subscriber
                if subscriber is not None:
                    await subscriber.held(self.keys.channel(channel), READY_TIMEOUT)
                since = self.delivered.get(channel)
                if since is not None:
                    found = await self.amissed(channel, since)
                    missed = found.messages
                    if not found.recovered:
                        # The hub sees the gap at the next message and tells its subscribers.
                        logger.warning("redis: messages of %s were lost while away", channel)
            except Exception as exc:
                # Redis going away again is expected; anything else is a bug worth a traceback.
                logger.warning(
                    "redis: could not resync %s: %s",
                    channel,
                    exc,
                    exc_info=not isinstance(exc, PublishError | redis.RedisError | TimeoutError),
                )
            finally:
                held = self._resyncing.pop(channel, [])
                last = self.delivered.get(channel)
                for message in (*missed, *held):
                    if (
                        last is not None
                        and message.epoch == last.epoch
                        and (message.offset or 0) <= last.offset
                    ):
                        continue
                    last = Position(message.offset or 0, message.epoch or "")
                    if channel in self._index:
                        self._hand_out(channel, message)
                if last is not None and channel in self._index:
                    self.delivered[channel] = last

    async def _send_probe(self) -> None:
        clients = self._async_clients()
        if clients is not None:
            await clients[0].publish(self.keys.probe(self.node), "probe")

    def _blocking(self) -> tuple[redis.Redis, Any]:
        with self._lock:
            if self._sync is None:
                self._sync = sync_client(self.url, self._protocol)
                self._sync_publish = self._sync.register_script(PUBLISH)
            return self._sync, self._sync_publish

    def _async_clients(self) -> tuple[redis.asyncio.Redis, Any] | None:
        """The async client, when called on the broker's loop (it is bound to it)."""
        loop = self._loop
        if loop is None:
            return None
        try:
            if asyncio.get_running_loop() is not loop:
                return None
        except RuntimeError:
            return None
        if self._async is None:
            self._async = async_client(self.url, self._protocol)
            self._async_publish = self._async.register_script(PUBLISH)
        return self._async, self._async_publish

    def __repr__(self) -> str:
        return f"RedisBroker(prefix={self.keys.prefix!r}, history_size={self._history_size})"


def _unavailable(exc: BaseException) -> PublishError:
    text = " ".join(str(exc).split())[:200]
    return PublishError(f"Redis is unavailable: {type(exc).__name__}: {text}")


def _new_epoch() -> str:
    # Only used when the stream has none: random, so that no two streams share one.
    return secrets.token_hex(8)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(fields: Any) -> list[tuple[Any, Any]]:
    # A Lua reply gives an entry's fields as a flat list; a mapping from other paths.
    if isinstance(fields, dict):
        return list(fields.items())
    return list(zip(fields[::2], fields[1::2], strict=True))


def _check_query(limit: int, cursor: str | None) -> str:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if cursor is None:
        return "+"
    if not (cursor.isascii() and _STREAM_ID.fullmatch(cursor)):
        raise ValueError("invalid history cursor")
    return cursor


def _page(channel: str, entries: Any, limit: int) -> HistoryPage:
    messages: list[Message] = []
    for _, fields in entries[:limit]:
        values: Mapping[bytes, bytes] = fields
        messages.append(Message(channel, values[b"p"].decode(), int(values[b"t"])))
    next_cursor = entries[limit][0].decode() if len(entries) > limit else None
    return HistoryPage(tuple(messages), next_cursor)
