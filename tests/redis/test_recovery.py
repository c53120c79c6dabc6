"""Recovery over Redis: offsets and epochs from the publish script, `subscribe` with `since`
on a gateway node, a restarted Redis detected by its new epoch, and a node whose Redis
subscription was down repairing its own clients."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sock8.gateway import ManualClock
from sock8.gateway.app import Gateway
from sock8.publisher import Position
from sock8.redis import RedisBroker, RedisPresence
from sock8.redis.subscriber import Subscriber

from tests.gateway.harness import LOGS, NOW, serving
from tests.redis.nodes import FAST, held, node, redis_broker
from tests.redis.proxy import FreezingProxy
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio


async def recover(client: Peer, channel: str, since: dict[str, Any]) -> dict[str, Any]:
    """Send `subscribe` with `since`; the `subscribed` answer."""
    await client.send(event="subscribe", channel=channel, since=since)
    answer = await client.recv()
    assert answer["event"] == "subscribed", answer
    return answer


async def test_a_client_back_on_another_node_gets_exactly_what_it_missed(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock) as first, node(redis_server, clock) as second:
        publisher = redis_broker(first)
        async with peer(first.server.ws_url, first.token()) as client:
            start = client.welcome["positions"][LOGS]
            assert start["offset"] == 0
            await held(redis_server, LOGS, nodes=1)
            await publisher.apublish(LOGS, '"seen"', persist=True)
            seen = await client.recv()
            assert (seen["offset"], seen["epoch"]) == (1, start["epoch"])
        for n in range(50):
            await publisher.apublish(LOGS, json.dumps(n), persist=True)
        async with peer(second.server.ws_url, second.token()) as client:
            assert client.welcome["positions"][LOGS] == {"offset": 51, "epoch": seen["epoch"]}
            answer = await recover(client, LOGS, {"offset": 1, "epoch": seen["epoch"]})
            assert (answer["recovered"], answer["offset"]) == (True, 51)
            missed = [await client.recv() for _ in range(50)]
            assert [frame["payload"] for frame in missed] == list(range(50))
            assert [frame["offset"] for frame in missed] == list(range(2, 52))
            await publisher.apublish(LOGS, '"live"', persist=True)
            live = await client.recv()
            assert (live["payload"], live["offset"]) == ("live", 52)


async def test_the_history_window_bounds_recovery(redis_server: RedisServer) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock, history_size=10) as setup:
        broker = redis_broker(setup)
        start = (await broker.apositions([LOGS]))[LOGS]
        for n in range(11):
            await broker.apublish(LOGS, json.dumps(n), persist=True)
        lost = await broker.amissed(LOGS, start)
        assert (lost.recovered, lost.messages, lost.position.offset) == (False, (), 11)
        kept = await broker.amissed(LOGS, Position(1, start.epoch))
        assert kept.recovered
        assert [message.payload for message in kept.messages] == [str(n) for n in range(1, 11)]
        ahead = await broker.amissed(LOGS, Position(12, start.epoch))
        assert not ahead.recovered


async def test_a_restarted_redis_without_persistence_has_a_new_epoch(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock) as setup:
        broker = redis_broker(setup)
        await broker.apublish(LOGS, '"before"', persist=True)
        before = (await broker.apositions([LOGS]))[LOGS]
        assert before.offset == 1
        redis_server.stop()
        redis_server.restart()
        await broker.apublish(LOGS, '"after"', persist=True)
        after = (await broker.apositions([LOGS]))[LOGS]
        assert after.offset == 1
        assert after.epoch != before.epoch
        async with peer(setup.server.ws_url, setup.token()) as client:
            answer = await recover(client, LOGS, {"offset": before.offset, "epoch": before.epoch})
            assert answer == {
                "event": "subscribed",
                "channel": LOGS,
                "recovered": False,
                "offset": 1,
                "epoch": after.epoch,
            }


@dataclass
class Outage:
    """A node whose Redis subscription went down while 20 messages were published to `LOGS`.

    Attributes:
        alice: a client of the node, subscribed to `LOGS`, which got the message before (offset 1).
        publisher: another node's broker, which published the 20.
        subscriber: the cut node's pub/sub connection.
    """

    alice: Peer
    publisher: RedisBroker
    subscriber: Subscriber

    async def back_and_live(self, redis_server: RedisServer) -> None:
        """Wait until the probe has restarted the node's subscription, then publish "live"."""
        subscriber = self.subscriber
        await until(lambda: subscriber.probe_restarts >= 1 and subscriber.available)
        await held(redis_server, LOGS, nodes=2)  # the frozen one still counts
        await self.publisher.apublish(LOGS, '"live"', persist=True)


@contextlib.asynccontextmanager
async def outage(redis_server: RedisServer, history_size: int) -> AsyncIterator[Outage]:
    """Serve a node whose Redis connections (through a proxy) freeze while another node
    publishes 20 messages to `LOGS`, with `history_size` messages of history per channel."""
    clock = ManualClock(NOW)
    async with FreezingProxy(redis_server.port) as proxy:
        cut = RedisBroker(
            proxy.url, clock=clock.time, probe_interval=0.2, backoff=FAST, history_size=history_size
        )
        gateway = Gateway(secret=SECRET, clock=clock, broker=cut, presence=RedisPresence(proxy.url))
        try:
            with serving(gateway) as setup, node(redis_server, clock) as other:
                publisher = redis_broker(other)
                async with peer(setup.server.ws_url, setup.token("alice", [LOGS])) as alice:
                    await held(redis_server, LOGS, nodes=1)
                    await publisher.apublish(LOGS, '"before"', persist=True)
                    assert (await alice.recv())["offset"] == 1
                    subscriber = cut.subscriber
                    assert subscriber is not None
                    proxy.freeze()  # the node hears nothing more from Redis
                    cut.close()  # its blocking connections are frozen too: new ones pass
                    for n in range(20):
                        await publisher.apublish(LOGS, json.dumps(n), persist=True)
                    yield Outage(alice, publisher, subscriber)
        finally:
            cut.close()


async def test_a_node_whose_subscription_was_down_repairs_its_clients(
    redis_server: RedisServer,
) -> None:
    async with outage(redis_server, history_size=100) as down:
        # Back (the probe restarts the subscription): the node fetches what its clients missed
        # and hands it to them, in order, once.
        frames = [await down.alice.recv() for _ in range(20)]
        assert [frame["payload"] for frame in frames] == list(range(20))
        assert [frame["offset"] for frame in frames] == list(range(2, 22))
        await down.back_and_live(redis_server)
        live = await down.alice.recv()
        assert (live["payload"], live["offset"]) == ("live", 22)


async def test_a_node_down_for_more_than_its_history_tells_its_clients(
    redis_server: RedisServer,
) -> None:
    async with outage(redis_server, history_size=5) as down:
        await down.back_and_live(redis_server)
        # Too much for the history: the clients are told, not left with a gap.
        lost = await down.alice.recv()
        assert lost == {
            "event": "subscribed",
            "channel": LOGS,
            "recovered": False,
            "offset": 21,
            "epoch": lost["epoch"],
        }
        live = await down.alice.recv()
        assert (live["payload"], live["offset"]) == ("live", 22)
