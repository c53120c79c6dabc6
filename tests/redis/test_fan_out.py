"""Two gateway nodes on one Redis: a publish to either reaches every subscriber of both,
exactly once; each node holds a Redis channel only while it has subscribers of it."""

from __future__ import annotations

import asyncio
import json

import pytest
import sock8
from sock8.gateway import ManualClock
from sock8.gateway.app import Gateway
from sock8.redis import RedisBroker, RedisPresence
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.gateway.harness import LOGS, NOW, ROOM
from tests.redis.nodes import KEYS, held, node, redis_broker
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer, serve, until
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio


async def message(client: Peer) -> dict[str, object]:
    frame = await client.recv()
    assert "event" not in frame, frame
    assert "payload" in frame, frame
    return frame


async def nothing_more(client: Peer) -> None:
    """The client has no frame waiting: a ping round trip comes back first."""
    pong = await client.ws.ping()
    await asyncio.wait_for(pong, 10)
    with pytest.raises(TimeoutError):
        await client.recv(timeout=0.05)


async def test_a_publish_to_one_node_reaches_the_clients_of_both_once(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock) as a, node(redis_server, clock) as b:
        async with (
            peer(a.server.ws_url, a.token("alice")) as alice,
            peer(b.server.ws_url, b.token("bob")) as bob,
            peer(b.server.ws_url, b.token("carol")) as carol,
        ):
            await held(redis_server, ROOM, nodes=2)
            response = await asyncio.to_thread(
                a.post, {"channel": ROOM, "payload": {"n": 1}}, a.publish_token()
            )
            assert response.status_code == 202, response.text
            b.publish(ROOM, {"n": 2})  # the sync path, straight into b's broker
            for client in (alice, bob, carol):
                assert (await message(client))["payload"] == {"n": 1}
                assert (await message(client))["payload"] == {"n": 2}
                await nothing_more(client)


async def test_each_node_holds_a_channel_only_while_it_has_subscribers(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock) as a, node(redis_server, clock) as b:
        async with peer(a.server.ws_url, a.token("alice")):
            await held(redis_server, ROOM, nodes=1)
            await held(redis_server, LOGS, nodes=1)
            async with peer(b.server.ws_url, b.token("bob", [ROOM])) as bob:
                await held(redis_server, ROOM, nodes=2)
                assert redis_server.numsub(KEYS.channel(LOGS)) == 1
                await bob.send(event="unsubscribe", channel=ROOM)
                assert (await bob.recv())["event"] == "unsubscribed"
                await held(redis_server, ROOM, nodes=1)
        # No subscription leaks: only the nodes' own probe channels are left.
        await held(redis_server, ROOM, nodes=0)
        await held(redis_server, LOGS, nodes=0)
        probes = {KEYS.probe(redis_broker(a).node), KEYS.probe(redis_broker(b).node)}
        await until(lambda: set(redis_server.channels()) == probes)


async def test_history_is_the_same_from_every_node_and_pages_with_cursors(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock, history_size=3) as a, node(redis_server, clock) as b:
        for n in range(5):
            response = await asyncio.to_thread(
                a.post, {"channel": ROOM, "payload": n, "persist": True}, a.publish_token()
            )
            assert response.status_code == 202
            clock.advance(1)
        token = a.token("alice")
        pages = []
        for setup in (a, b):
            first = (await asyncio.to_thread(setup.history, ROOM, token, "?limit=2")).json()
            cursor = first["nextCursor"]
            assert isinstance(cursor, str)
            query = f"?limit=2&cursor={cursor}"
            second = await asyncio.to_thread(setup.history, ROOM, token, query)
            pages.append((first, second.json()))
        assert pages[0] == pages[1]
        first, second = pages[0]
        # history_size=3 on the node that published: the stream keeps the three newest.
        assert [m["payload"] for m in first["messages"]] == [4, 3]
        assert [m["payload"] for m in second["messages"]] == [2]
        assert second["nextCursor"] is None
        stamps = [m["timestamp"] for m in first["messages"] + second["messages"]]
        assert stamps == [int((NOW + n) * 1000) for n in (4, 3, 2)]
        # A cursor the store did not issue is a 400, on any node.
        bad = await asyncio.to_thread(b.history, ROOM, token, "?cursor=12")
        assert bad.status_code == 400
        assert json.loads(bad.text)["error"] == "bad_request"


async def test_a_gateway_mounted_in_another_app_starts_on_its_first_request(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    broker = RedisBroker(redis_server.url, clock=clock.time)
    gateway = Gateway(
        secret=SECRET, clock=clock, broker=broker, presence=RedisPresence(redis_server.url)
    )
    # Starlette does not run a mounted app's lifespan: the gateway starts itself.
    parent = Starlette(routes=[Mount("/realtime", app=gateway.app)])
    try:
        with serve(parent) as server:
            url = server.ws_url.replace("/connect", "/realtime/connect")
            token = sock8.Signer(SECRET).sign("alice", [LOGS], now=clock.time())
            async with peer(url, token) as alice:
                await held(redis_server, LOGS, nodes=1)
                await broker.apublish(LOGS, '"mounted"')  # another loop: a worker thread
                assert (await message(alice))["payload"] == "mounted"
    finally:
        broker.close()
