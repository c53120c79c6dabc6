"""One node's pub/sub connection to Redis, kept alive by its own loop.

The subscriber holds the Redis channels its owner *wants* (an index the owner keeps: those of
the channels with local subscribers) and makes the connection match it, in batched SUBSCRIBE
and UNSUBSCRIBE commands. When the connection fails, it reconnects with capped, jittered
backoff and resubscribes every wanted channel from that index: nothing depends on what the
Redis client remembers. A subscription can also die silently (a half-open socket, a proxy or
failover that drops it, `CLIENT KILL TYPE pubsub`): when a whole `probe_interval` passes with
nothing received, the node publishes to its own probe channel, and if nothing arrives for
another interval it restarts the connection. Each change between available and unavailable
is logged once.

Delivery is at-most-once: what is published while the connection is down is not received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sock8._backoff import Backoff
from sock8.redis.clients import Protocol, pubsub_client

__all__ = ["BATCH", "Subscriber"]

logger = logging.getLogger("sock8.redis")

BATCH = 512
"""Redis channels per SUBSCRIBE or UNSUBSCRIBE command."""


class _Deaf(Exception):
    """The probe got no echo: the subscription is dead although the socket looks alive."""


class Subscriber:
    """A supervised pub/sub connection (internal to `RedisBroker`).

    Arguments:
        url: the Redis URL.
        protocol: the RESP version.
        probe: the node's probe channel, subscribed first on every connection.
        send_probe: publishes to `probe` (through the command connection).
        on_message: called with the Redis channel and the data of every message, on the loop
            the subscriber runs on; it must not block.
        probe_interval: seconds of silence before a probe, and then before giving up on it.
        backoff: delays between reconnect attempts.
        on_reconnect: called when a connection after the first is up (its channels sent):
            what was published meanwhile did not reach this node.
    """

    def __init__(
        self,
        url: str,
        protocol: Protocol,
        *,
        probe: str,
        send_probe: Callable[[], Awaitable[object]],
        on_message: Callable[[bytes, bytes], None],
        probe_interval: float,
        backoff: Backoff,
        on_reconnect: Callable[[], object] | None = None,
    ) -> None:
        self._url = url
        self._protocol = protocol
        self._probe = probe
        self._probe_bytes = probe.encode()
        self._send_probe = send_probe
        self._on_message = on_message
        self._probe_interval = probe_interval
        self._backoff = backoff
        self._on_reconnect = on_reconnect
        self._wanted: dict[str, None] = {}
        self._sent: set[str] = set()
        # Channels Redis confirmed on this connection, and who waits for a confirmation.
        self._confirmed: set[bytes] = set()
        self._waiters: dict[bytes, list[asyncio.Future[None]]] = {}
        self._probing: set[asyncio.Task[object]] = set()
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.available = False
        """Whether the connection is up and holds every wanted channel."""
        self._reported: bool | None = None
        self.reconnects = 0
        """Connections made after the first (for tests and metrics)."""
        self.probes = 0
        """Probes sent (for tests and metrics)."""
        self.probe_restarts = 0
        """Connections restarted because a probe got no echo (for tests and metrics)."""
        self._heard = 0  # replies read on the current connection: what `_watch` looks at

    # The index, changed by the owner on the subscriber's loop.

    def want(self, channel: str) -> None:
        """Hold `channel` from now on (subscribed at the next batch)."""
        self._wanted[channel] = None
        self._dirty.set()

    def unwant(self, channel: str) -> None:
        """Stop holding `channel`."""
        self._wanted.pop(channel, None)
        self._dirty.set()

    async def held(self, channel: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds until Redis confirmed `channel` on the connection;
        whether it did."""
        key = channel.encode()
        if key in self._confirmed:
            return True
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(key, [])
        waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(key, None)
        return True

    # Life.

    def start(self) -> None:
        """Start the connection loop on the running event loop; idempotent."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="sock8-redis-subscriber")

    async def stop(self) -> None:
        """Stop the loop and close the connection."""
        task, self._task = self._task, None
        tasks: list[asyncio.Task[Any]] = [*self._probing]
        if task is not None:
            tasks.append(task)
        for each in tasks:
            each.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.available = False

    async def _run(self) -> None:
        attempt = 0
        first = True
        while True:
            loop = asyncio.get_running_loop()
            client = pubsub_client(self._url, self._protocol)
            pubsub = client.pubsub()
            up_since: float | None = None
            try:
                self._sent = set()
                self._confirmed = set()
                await pubsub.subscribe(self._probe)
                await self._reconcile(pubsub)
                up_since = loop.time()
                reconnected = not first
                if reconnected:
                    self.reconnects += 1
                first = False
                self._up()
                if reconnected and self._on_reconnect is not None:
                    self._on_reconnect()
                await self._serve(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Everything, not only RedisError: a listener that dies on an unexpected
                # exception leaves the node deaf for good.
                self._down(exc)
            finally:
                self.available = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            if up_since is not None and loop.time() - up_since >= self._backoff.reset_after:
                attempt = 0
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    def _up(self) -> None:
        if self._reported is not True:
            logger.info("redis: subscribed to %d channels", len(self._wanted))
        self._reported = self.available = True

    def _down(self, exc: BaseException) -> None:
        # One line per transition: a Redis that stays away is not logged at every attempt.
        if self._reported is True:
            logger.warning("redis: subscription lost (%s); reconnecting", _describe(exc))
        elif self._reported is None:
            logger.warning("redis: cannot subscribe (%s); retrying", _describe(exc))
        else:
            logger.debug("redis: cannot subscribe (%s); retrying", _describe(exc))
        self._reported = self.available = False

    async def _serve(self, pubsub: Any) -> None:
        """Read and follow the index until either fails; its error restarts the connection."""
        tasks = {
            asyncio.create_task(self._read(pubsub)),
            asyncio.create_task(self._watch()),
            asyncio.create_task(self._keep_reconciled(pubsub)),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise RuntimeError("the subscription stopped")  # pragma: no cover - both loop
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, pubsub: Any) -> None:
        # A blocking read: no timer per message (a read with a timeout arms and cancels one
        # each time); `_watch` judges the silence instead, with one timer per interval.
        handle = self._handle
        while True:
            message = await pubsub.get_message(timeout=None)
            self._heard += 1
            if message is not None:
                handle(message)

    async def _watch(self) -> None:
        """Probe after `probe_interval` of silence; no echo within another interval: deaf."""
        probing = False
        while True:
            heard = self._heard
            await asyncio.sleep(self._probe_interval)
            if self._heard != heard:
                probing = False
                continue
            if probing:
                self.probe_restarts += 1
                raise _Deaf(f"no probe echo within {self._probe_interval} s")
            probing = True
            self.probes += 1
            # Not awaited: a publish stuck on a dead socket must not delay the verdict, which
            # is the silence of the subscription itself. Left to finish (bounded by the
            # command timeout): cancelling a command midway would spoil its connection.
            task = asyncio.create_task(self._probe_once())
            self._probing.add(task)
            task.add_done_callback(self._probing.discard)

    async def _probe_once(self) -> object:
        try:
            return await self._send_probe()
        except Exception as exc:
            logger.debug("redis: the probe could not be published (%s)", _describe(exc))
            return None

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "message":
            channel = message["channel"]
            if channel != self._probe_bytes:
                self._on_message(channel, message["data"])
        elif kind == "subscribe":
            self._confirm(message["channel"])
        elif kind == "unsubscribe":
            self._confirmed.discard(message["channel"])

    def _confirm(self, channel: bytes) -> None:
        self._confirmed.add(channel)
        for waiter in self._waiters.pop(channel, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def _keep_reconciled(self, pubsub: Any) -> None:
        while True:
            await self._dirty.wait()
            await self._reconcile(pubsub)

    async def _reconcile(self, pubsub: Any) -> None:
        """Make the connection hold exactly the wanted channels (and the probe), in batches."""
        async with self._lock:
            while True:
                self._dirty.clear()
                wanted = self._wanted
                sent = self._sent
                add = [channel for channel in wanted if channel not in sent]
                remove = [channel for channel in sent if channel not in wanted]
                if not add and not remove:
                    return
                for start in range(0, len(add), BATCH):
                    batch = add[start : start + BATCH]
                    await pubsub.subscribe(*batch)
                    sent.update(batch)
                for start in range(0, len(remove), BATCH):
                    batch = remove[start : start + BATCH]
                    await pubsub.unsubscribe(*batch)
                    sent.difference_update(batch)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
