"""Per-connection rate limits and presence coalescing, over real sockets: a refused request gets
a `rate_limited` error and the connection stays; the buckets refill with the gateway's clock;
and one client flooding a room with presence disconnects nobody, itself included."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sock8
from sock8 import _gateway_defaults as defaults

from tests.gateway.harness import LOGS, ROOM, Setup, both_servers, chat_tree, running
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET

pytestmark = [pytest.mark.anyio, both_servers]


@contextlib.contextmanager
def chat(**options: Any) -> Iterator[Setup]:
    """A gateway with the chat tree (rooms with presence) and its own limits."""
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    with running(s8, channels=chat_tree(s8), **options) as setup:
        yield setup


@pytest.fixture
def defaults_setup() -> Iterator[Setup]:
    """The default limits, as `sock8 gateway` runs."""
    with chat() as setup:
        yield setup


@pytest.fixture
def tight() -> Iterator[Setup]:
    with chat(request_rate=1, request_burst=3, presence_rate=0.5, presence_burst=2) as setup:
        yield setup


def rate_limited(channel: str | None, message: str) -> dict[str, Any]:
    frame = {"event": "error", "code": "rate_limited", "message": message}
    if channel is not None:
        frame["channel"] = channel
    return frame


TOO_MANY = "too many requests; slow down"
TOO_MANY_PRESENCE = "too many setPresence requests; slow down"


async def test_requests_beyond_the_burst_are_refused_until_the_bucket_refills(
    tight: Setup,
) -> None:
    setup = tight
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        for _ in range(3):
            await client.send(event="subscribe", channel=LOGS)
            assert await client.recv() == {"event": "subscribed", "channel": LOGS}
        await client.send(event="subscribe", channel=LOGS)
        assert await client.recv() == rate_limited(LOGS, TOO_MANY)
        # Every kind of request counts; one without a channel gets an error without one.
        await client.send(event="refresh", token=setup.token("u1"))
        assert await client.recv() == rate_limited(None, TOO_MANY)
        await client.send(event="getPresence", channel=ROOM)
        assert await client.recv() == rate_limited(ROOM, TOO_MANY)
        setup.clock.advance(1)  # one more token
        await client.send(event="unsubscribe", channel=LOGS)
        assert await client.recv() == {"event": "unsubscribed", "channel": LOGS}
        await client.send(event="subscribe", channel=LOGS)
        assert await client.recv() == rate_limited(LOGS, TOO_MANY)
        # The connection stayed open through it all: deliveries still arrive.
        setup.publish(ROOM, "still here")
        assert await client.recv() == {"channel": ROOM, "payload": "still here"}
        assert setup.gateway.stats.rate_limited == 4


async def test_set_presence_has_a_tighter_bucket(tight: Setup) -> None:
    setup = tight
    room = ROOM  # the chat tree's room, where presence has a schema
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        for name in ("a", "b"):
            await client.send(
                event="setPresence", channel=room, data={"typing": True, "name": name}
            )
            assert (await client.recv())["updates"]["u1"]["data"]["name"] == name
        await client.send(event="setPresence", channel=room, data={"typing": True, "name": "c"})
        assert await client.recv() == rate_limited(room, TOO_MANY_PRESENCE)
        setup.clock.advance(1)  # the request bucket refills faster than the presence one
        await client.send(event="getPresence", channel=room)
        state = await client.recv()
        assert state["event"] == "presenceState"
        assert state["state"]["u1"]["data"]["name"] == "b"  # "c" was not stored
        setup.clock.advance(1)
        await client.send(event="setPresence", channel=room, data={"typing": True, "name": "d"})
        assert (await client.recv())["updates"]["u1"]["data"]["name"] == "d"


async def read_presence_until(reader: Peer, identity: str, data: dict[str, Any]) -> int:
    """Read `presenceUpdate`s (and nothing else) until `identity`'s entry carries `data`; how
    many frames that took."""
    count = 0
    while True:
        frame = await reader.recv()
        assert frame["event"] == "presenceUpdate", frame
        count += 1
        entry = frame["updates"].get(identity)
        if entry is not None and entry["data"] == data:
            return count


async def test_a_presence_flood_disconnects_nobody(defaults_setup: Setup) -> None:
    """The issue's attack: 1,000 setPresence back to back from one member of a room of 21."""
    setup = defaults_setup
    room, flood = ROOM, 1000
    accepted = defaults.PRESENCE_BURST  # the clock does not move: no refill during the flood
    last = {"typing": True, "name": f"n{accepted - 1}"}
    url = setup.server.ws_url
    async with contextlib.AsyncExitStack() as stack:
        flooder = await stack.enter_async_context(peer(url, setup.token("flooder")))
        readers = [
            await stack.enter_async_context(peer(url, setup.token(f"reader{index}")))
            for index in range(20)
        ]
        # Every reader reads continuously, from before the flood starts.
        reading = [
            asyncio.create_task(read_presence_until(reader, "flooder", last)) for reader in readers
        ]
        for index in range(flood):
            data = {"typing": True, "name": f"n{index}"}
            request = {"event": "setPresence", "channel": room, "data": data}
            await flooder.ws.send(json.dumps(request))  # without waiting for any answer
        # The gateway handles one connection's frames in order: this counts the last one.
        await until(lambda: setup.gateway.stats.rate_limited == flood - accepted)
        counts = await asyncio.gather(*reading)
        # Coalesced: a reader got at most one frame per accepted change, usually fewer.
        assert all(1 <= count <= accepted for count in counts), counts
        for reader in readers:
            # Still connected, and nothing else is on its way: the answer is next.
            await reader.send(event="getPresence", channel=room)
            state = await reader.recv()
            assert state["event"] == "presenceState", state
            assert state["state"]["flooder"]["data"] == last

        # The flooder was told, and is still connected once its request bucket refilled.
        setup.clock.advance(defaults.REQUEST_BURST / defaults.REQUEST_RATE)
        await flooder.send(event="getPresence", channel=room)
        refusals = updates = 0
        while (frame := await flooder.recv())["event"] != "presenceState":
            if frame["event"] == "presenceUpdate":
                updates += 1
            else:
                assert frame["code"] == "rate_limited", frame
                assert frame["channel"] == room
                refusals += 1
        assert frame["state"]["flooder"]["data"] == last
        assert 1 <= updates <= accepted
        assert refusals >= 1
        assert setup.gateway.stats.slow_consumers == 0
        assert setup.gateway.stats.connections == 21
