"""Presence shared by two gateway nodes: a change on one reaches the subscribers of both (its
author included, once), both answer getPresence alike, an identity stays while any of its
connections on any node is a member, and the entries of a node that stopped refreshing them
expire: the node that cleans them announces the removal to every node."""

from __future__ import annotations

from typing import Any

import pytest
import sock8
from sock8.gateway import ManualClock
from sock8.redis import RedisPresence

from tests.gateway.harness import NOW, ROOM, chat_tree
from tests.redis.nodes import node
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio

STAMP = int(NOW * 1000)


def update(updates: dict[str, Any], removals: list[str]) -> dict[str, Any]:
    return {"event": "presenceUpdate", "channel": ROOM, "updates": updates, "removals": removals}


def entry(data: dict[str, Any], stamp: int = STAMP) -> dict[str, Any]:
    return {"isConnected": True, "lastSeen": stamp, "data": data}


async def state(client: Peer) -> dict[str, Any]:
    await client.send(event="getPresence", channel=ROOM)
    frame = await client.recv()
    assert frame["event"] == "presenceState", frame
    found = frame["state"]
    assert isinstance(found, dict)
    return found


def app() -> sock8.Sock8:
    return sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())


async def test_a_change_on_one_node_reaches_both_and_the_last_leave_removes_it(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    s8 = app()
    tree = chat_tree(s8)
    with (
        node(redis_server, clock, channels=tree, grants=(ROOM,)) as a,
        node(redis_server, clock, channels=tree, grants=(ROOM,)) as b,
    ):
        async with (
            peer(a.server.ws_url, a.token("alice")) as alice,
            peer(b.server.ws_url, b.token("bob")) as bob,
        ):
            await alice.send(event="setPresence", channel=ROOM, data={"typing": True})
            expected = update({"alice": entry({"typing": True, "name": "anonymous"})}, [])
            assert await alice.recv() == expected  # its author too, through Redis, once
            assert await bob.recv() == expected
            assert await state(bob) == await state(alice) == expected["updates"]
            # The schema is the same on every node: refused before anything is stored.
            await bob.send(event="setPresence", channel=ROOM, data={"typing": "maybe"})
            refused = await bob.recv()
            assert (refused["event"], refused["code"]) == ("error", "invalid_presence")
            # A second connection of alice, on the other node: one entry, merged.
            async with peer(b.server.ws_url, b.token("alice")) as alice2:
                clock.advance(1)
                await alice2.send(event="setPresence", channel=ROOM, data={"name": "Al"})
                merged = update({"alice": entry({"typing": True, "name": "Al"}, STAMP + 1000)}, [])
                for client in (alice, bob, alice2):
                    assert await client.recv() == merged
            # alice2 left, alice on node a is still a member: no removal.
            assert await state(bob) == merged["updates"]
            await alice.send(event="unsubscribe", channel=ROOM)
            assert (await alice.recv())["event"] == "unsubscribed"
            assert await bob.recv() == update({}, ["alice"])
            assert await state(bob) == {}


async def test_entries_of_a_node_that_stopped_refreshing_expire_with_an_announced_removal(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock) as a, node(redis_server, clock) as b:
        presence_a, presence_b = a.gateway.presence, b.gateway.presence
        assert isinstance(presence_a, RedisPresence)
        assert isinstance(presence_b, RedisPresence)
        async with (
            peer(a.server.ws_url, a.token("alice")) as alice,
            peer(b.server.ws_url, b.token("bob")) as bob,
        ):
            await alice.send(event="setPresence", channel=ROOM, data={"here": 1})
            assert (await alice.recv())["event"] == "presenceUpdate"
            assert (await bob.recv())["event"] == "presenceUpdate"
            # A third node that died right after its member joined: it never refreshes.
            ghost = RedisPresence(redis_server.url)
            await ghost.update(ROOM, "ghost", "connection-1", {"x": 1}, now_ms=STAMP)
            for client in (alice, bob):
                assert await client.recv() == update({"ghost": entry({"x": 1})}, [])
            await ghost.stop()
            # The live nodes refresh every ttl/3; steps of one refresh interval each.
            for rounds in (1, 2):
                clock.advance(presence_a.refresh)
                await until(lambda: min(presence_a.rounds, presence_b.rounds) >= rounds)  # noqa: B023
                assert set(await state(bob)) == {"alice", "ghost"}
            clock.advance(presence_a.ttl - 2 * presence_a.refresh)  # the ghost's expiry
            removal = update({}, ["ghost"])
            assert await alice.recv() == removal
            assert await bob.recv() == removal
            # alice, refreshed by her node, is still there; only the ghost went.
            assert set(await state(bob)) == {"alice"}
            assert set(await state(alice)) == {"alice"}
