"""Redis faults: while Redis is down, publishes are refused (503, `PublishError`), `/health`
says so with a 503, and WebSockets stay open; when it returns, every node resubscribes by
itself and deliveries resume without any client action. A subscription that dies (killed by
Redis, or silently, on a half-open connection) is noticed and restored."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sock8
from sock8 import PublishError
from sock8.gateway import ManualClock
from sock8.gateway.app import Gateway
from sock8.redis import RedisBroker, RedisPresence

from tests.gateway.harness import LOGS, NOW, ROOM, Setup, chat_tree, serving
from tests.redis.nodes import FAST, held, node, redis_broker
from tests.redis.proxy import FreezingProxy
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET
from tests.support.ws_frames import payload

pytestmark = pytest.mark.anyio


def health(setup: Setup) -> tuple[int, Any]:
    response = httpx.get(setup.server.url("/health"), timeout=10)
    return response.status_code, response.json()


async def open_and_answering(client: Peer) -> None:
    pong = await client.ws.ping()
    await asyncio.wait_for(pong, 10)


async def test_redis_down_refuses_publishes_keeps_sockets_and_recovers(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    publisher = RedisBroker(redis_server.url)
    s8 = sock8.Sock8(secret=SECRET, publisher=publisher)
    logs = chat_tree(s8).admin.logs
    try:
        with node(redis_server, clock) as a, node(redis_server, clock) as b:
            async with (
                peer(a.server.ws_url, a.token("alice", [LOGS])) as alice,
                peer(b.server.ws_url, b.token("bob", [LOGS])) as bob,
            ):
                await held(redis_server, LOGS, nodes=2)
                assert await asyncio.to_thread(health, a) == (
                    200,
                    {"ok": True, "connections": 1, "broker": "ok"},
                )
                redis_server.stop()
                await until(
                    lambda: redis_broker(a).status == redis_broker(b).status == "unavailable"
                )
                refused = await asyncio.to_thread(
                    a.post, {"channel": LOGS, "payload": "lost"}, a.publish_token()
                )
                assert (refused.status_code, refused.json()) == (503, {"error": "unavailable"})
                with pytest.raises(PublishError, match="Redis is unavailable"):
                    logs.emit("lost")  # sync, from inside this running loop
                with pytest.raises(PublishError, match="Redis is unavailable"):
                    await logs.aemit("lost")
                assert await asyncio.to_thread(health, b) == (
                    503,
                    {"ok": False, "connections": 1, "broker": "unavailable"},
                )
                history = await asyncio.to_thread(b.history, LOGS, b.token("bob", [LOGS]))
                assert (history.status_code, history.json()) == (503, {"error": "unavailable"})
                for client in (alice, bob):
                    await open_and_answering(client)
                requests: list[dict[str, Any]] = [
                    {"event": "setPresence", "channel": LOGS, "data": {"x": 1}},
                    {"event": "getPresence", "channel": LOGS},
                ]
                for request in requests:
                    await alice.send(**request)
                    error = await alice.recv()
                    assert (error["event"], error["code"]) == ("error", "unavailable")
                await open_and_answering(alice)

                redis_server.restart()
                await until(lambda: redis_broker(a).status == redis_broker(b).status == "ok")
                await held(redis_server, LOGS, nodes=2)
                accepted = await asyncio.to_thread(
                    a.post, {"channel": LOGS, "payload": "back"}, a.publish_token()
                )
                assert accepted.status_code == 202
                logs.emit("emitted")
                await logs.aemit("aemitted")
                for client in (alice, bob):
                    assert [await payload(client) for _ in range(3)] == [
                        "back",
                        "emitted",
                        "aemitted",
                    ]
                assert await asyncio.to_thread(health, b) == (
                    200,
                    {"ok": True, "connections": 1, "broker": "ok"},
                )
    finally:
        publisher.close()


async def test_a_killed_subscription_is_restored(redis_server: RedisServer) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock) as a:
        async with peer(a.server.ws_url, a.token("alice", [LOGS, ROOM])) as alice:
            await held(redis_server, LOGS, nodes=1)
            await held(redis_server, ROOM, nodes=1)
            subscriber = redis_broker(a).subscriber
            assert subscriber is not None
            redis_server.client.client_kill_filter(_type="pubsub")
            await until(lambda: subscriber.reconnects >= 1 and subscriber.available)
            await held(redis_server, LOGS, nodes=1)
            await held(redis_server, ROOM, nodes=1)
            redis_server.client.publish(
                redis_broker(a).keys.channel(LOGS), f'm{int(NOW * 1000)}:"again"'
            )
            assert await payload(alice) == "again"


async def test_a_silent_subscription_is_caught_by_the_probe(redis_server: RedisServer) -> None:
    clock = ManualClock(NOW)
    async with FreezingProxy(redis_server.port) as proxy:
        broker = RedisBroker(proxy.url, clock=clock.time, probe_interval=0.2, backoff=FAST)
        gateway = Gateway(
            secret=SECRET, clock=clock, broker=broker, presence=RedisPresence(proxy.url)
        )
        try:
            with serving(gateway) as setup:
                async with peer(setup.server.ws_url, setup.token("alice", [LOGS])) as alice:
                    await held(redis_server, LOGS, nodes=1)
                    subscriber = broker.subscriber
                    assert subscriber is not None
                    proxy.freeze()  # the node's connections stay open and go silent
                    # Published straight to Redis: the frozen subscription cannot carry it.
                    await until(lambda: subscriber.reconnects >= 1 and subscriber.available)
                    # Redis still counts the frozen connection, which it cannot tell is dead.
                    await held(redis_server, LOGS, nodes=2)
                    assert subscriber.probes >= 1
                    assert subscriber.probe_restarts >= 1
                    redis_server.client.publish(
                        broker.keys.channel(LOGS), f'm{int(NOW * 1000)}:"after"'
                    )
                    assert await payload(alice) == "after"
        finally:
            broker.close()
