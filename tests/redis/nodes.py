"""Gateway nodes sharing one Redis, served on loopback, on one manual clock.

    clock = ManualClock(NOW)
    with node(server, clock) as a, node(server, clock) as b:
        async with peer(a.server.ws_url, a.token()) as alice, peer(b.server.ws_url, ...) as bob:
            await held(server, ROOM, nodes=2)          # both nodes subscribed in Redis
            a.post({...}, a.publish_token())           # reaches alice and bob

Each node is a `Gateway` with a `RedisBroker` and a `RedisPresence` on the test server, served
by tests/support/live_server.py through the gateway harness (`serving`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sock8
from sock8._backoff import Backoff
from sock8.gateway import ManualClock
from sock8.gateway.app import Gateway
from sock8.redis import RedisBroker, RedisPresence
from sock8.redis.keys import Keys

from tests.gateway.harness import LOGS, ROOM, Setup, serving
from tests.redis.server import RedisServer
from tests.support.live_server import until
from tests.support.secret import SECRET

FAST = Backoff(base=0.05, cap=0.2, reset_after=1.0)
"""Reconnect delays short enough for the fault tests."""

KEYS = Keys()


def broker(server: RedisServer, clock: ManualClock, **options: Any) -> RedisBroker:
    """A broker on the test server with the test's clock and fast reconnects."""
    options.setdefault("backoff", FAST)
    return RedisBroker(server.url, clock=clock.time, **options)


@contextlib.contextmanager
def node(
    server: RedisServer,
    clock: ManualClock,
    s8: sock8.Sock8 | None = None,
    *,
    grants: tuple[str, ...] = (ROOM, LOGS),
    probe_interval: float = 30.0,
    **options: Any,
) -> Iterator[Setup]:
    """A served gateway node on `server`; its broker is `setup.gateway.broker`."""
    size = options.get("history_size", 100)
    shared = broker(server, clock, probe_interval=probe_interval, history_size=size)
    if s8 is None:
        options.setdefault("secret", SECRET)
    gateway = Gateway(s8, clock=clock, broker=shared, presence=RedisPresence(server.url), **options)
    try:
        with serving(gateway, grants) as setup:
            yield setup
    finally:
        shared.close()


def redis_broker(setup: Setup) -> RedisBroker:
    """The node's broker."""
    found = setup.gateway.broker
    assert isinstance(found, RedisBroker), found
    return found


async def held(server: RedisServer, channel: str, nodes: int) -> None:
    """Wait until `nodes` connections hold `channel`'s Redis channel (`PUBSUB NUMSUB`): a
    publish before that could reach fewer nodes."""
    await until(lambda: server.numsub(KEYS.channel(channel)) == nodes)
