"""Presence over real sockets: setPresence merges, getPresence answers, presenceUpdate reaches
every subscriber (the sender too), an identity leaves with its last connection, and data is
checked against the channel's presence schema when the gateway has the tree."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from json import dumps as json_string
from typing import Any

import pytest
import sock8
from sock8.gateway import MemoryPresence, PresenceEntry

from tests.gateway.harness import (
    NOTIFICATIONS,
    OTHER_ROOM,
    ROOM,
    Setup,
    both_servers,
    chat_tree,
    running,
)
from tests.support.live_server import Peer, peer
from tests.support.secret import SECRET

pytestmark = [pytest.mark.anyio, both_servers]

NOW = 1_800_000_000.5
STAMP = int(NOW * 1000)


@contextlib.contextmanager
def chat(*, with_tree: bool, **options: Any) -> Iterator[Setup]:
    """A gateway of an app with the chat tree, given the tree (presence schemas) or not."""
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    tree = chat_tree(s8) if with_tree else None
    with running(s8, channels=tree, start=NOW, grants=(ROOM, NOTIFICATIONS), **options) as setup:
        yield setup


@pytest.fixture
def setup() -> Iterator[Setup]:
    """Here, the gateway knows the chat tree (the area's `setup` knows no tree)."""
    with chat(with_tree=True) as served:
        yield served


@pytest.fixture
def schemaless() -> Iterator[Setup]:
    with chat(with_tree=False, max_presence_bytes=64) as served:
        yield served


@pytest.fixture(params=[True, False], ids=["schema", "no tree"])
def either(request: pytest.FixtureRequest) -> Iterator[Setup]:
    with chat(with_tree=request.param) as served:
        yield served


def entry(data: dict[str, Any], stamp: int = STAMP) -> dict[str, Any]:
    return {"isConnected": True, "lastSeen": stamp, "data": data}


def update(channel: str, updates: dict[str, Any], removals: list[str]) -> dict[str, Any]:
    return {"event": "presenceUpdate", "channel": channel, "updates": updates, "removals": removals}


async def get_state(client: Peer, channel: str) -> dict[str, Any]:
    await client.send(event="getPresence", channel=channel)
    frame = await client.recv()
    assert frame["event"] == "presenceState", frame
    assert frame["channel"] == channel
    state = frame["state"]
    assert isinstance(state, dict)
    return state


async def test_set_get_and_update_reach_every_subscriber(setup: Setup) -> None:
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("u1")) as u1, peer(url, setup.token("u2")) as u2:
        assert await get_state(u2, room) == {}
        await u1.send(event="setPresence", channel=room, data={"typing": True})
        expected = update(room, {"u1": entry({"typing": True, "name": "anonymous"})}, [])
        assert await u1.recv() == expected  # the sender included
        assert await u2.recv() == expected
        assert await get_state(u2, room) == {"u1": entry({"typing": True, "name": "anonymous"})}


async def test_updates_are_partial_and_merged(setup: Setup) -> None:
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("u1")) as u1:
        await u1.send(event="setPresence", channel=room, data={"name": "Ada", "typing": False})
        await u1.recv()
        setup.clock.advance(2)
        await u1.send(event="setPresence", channel=room, data={"typing": True})
        later = STAMP + 2000
        assert await u1.recv() == update(
            room, {"u1": entry({"typing": True, "name": "Ada"}, later)}, []
        )
        assert await get_state(u1, room) == {"u1": entry({"typing": True, "name": "Ada"}, later)}


async def test_an_identity_leaves_with_its_last_connection(setup: Setup) -> None:
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("watcher")) as watcher:
        async with peer(url, setup.token("u1")) as tab1:
            async with peer(url, setup.token("u1")) as tab2:
                for tab in (tab1, tab2):
                    await tab.send(event="setPresence", channel=room, data={"typing": False})
                    assert (await watcher.recv())["updates"]["u1"]["data"]["typing"] is False
            # One tab left: u1 is still present, and nobody hears of a removal.
            assert await get_state(watcher, room) == {
                "u1": entry({"typing": False, "name": "anonymous"})
            }
        assert await watcher.recv() == update(room, {}, ["u1"])
        assert await get_state(watcher, room) == {}


async def test_unsubscribe_leaves_presence(setup: Setup) -> None:
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("watcher")) as watcher, peer(url, setup.token("u1")) as u1:
        await u1.send(event="setPresence", channel=room, data={"typing": True})
        await watcher.recv()
        await u1.send(event="unsubscribe", channel=room)
        assert await watcher.recv() == update(room, {}, ["u1"])
        assert await u1.recv() == update(
            room, {"u1": entry({"typing": True, "name": "anonymous"})}, []
        )
        assert await u1.recv() == {"event": "unsubscribed", "channel": room}


async def test_refresh_that_revokes_a_channel_leaves_its_presence(setup: Setup) -> None:
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("watcher")) as watcher, peer(url, setup.token("u1")) as u1:
        await u1.send(event="setPresence", channel=room, data={"typing": True})
        await watcher.recv()
        await u1.recv()
        await u1.send(event="refresh", token=setup.token("u1", [NOTIFICATIONS]))
        assert await watcher.recv() == update(room, {}, ["u1"])
        assert (await u1.recv())["event"] == "refreshed"


async def test_presence_on_a_channel_not_granted_is_forbidden(setup: Setup) -> None:
    url = setup.server.ws_url
    async with peer(url, setup.token("u1")) as u1:
        frames: list[dict[str, Any]] = [
            {"event": "setPresence", "channel": OTHER_ROOM, "data": {"typing": True}},
            {"event": "getPresence", "channel": OTHER_ROOM},
        ]
        for frame in frames:
            await u1.send(**frame)
            assert await u1.recv() == {
                "event": "error",
                "code": "forbidden",
                "message": "channel not granted",
                "channel": OTHER_ROOM,
            }


async def test_presence_needs_a_subscription(setup: Setup) -> None:
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("watcher")) as watcher, peer(url, setup.token("u1")) as u1:
        await u1.send(event="unsubscribe", channel=room)
        assert await u1.recv() == {"event": "unsubscribed", "channel": room}
        await u1.send(event="setPresence", channel=room, data={"typing": True})
        assert await u1.recv() == {
            "event": "error",
            "code": "not_subscribed",
            "message": "subscribe to the channel to set presence",
            "channel": room,
        }
        # Nothing stored, nothing broadcast (the watcher's next frame is the answer), and the
        # connection stays.
        assert await get_state(watcher, room) == {}
        await u1.send(event="subscribe", channel=room)
        assert await u1.recv() == {"event": "subscribed", "channel": room}
        await u1.send(event="setPresence", channel=room, data={"typing": True})
        expected = update(room, {"u1": entry({"typing": True, "name": "anonymous"})}, [])
        assert await u1.recv() == expected
        assert await watcher.recv() == expected


async def test_presence_on_a_channel_without_presence_is_forbidden(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token("u1")) as u1:
        frames: list[dict[str, Any]] = [
            {"event": "setPresence", "channel": NOTIFICATIONS, "data": {"typing": True}},
            {"event": "getPresence", "channel": NOTIFICATIONS},
        ]
        for frame in frames:
            await u1.send(**frame)
            error = await u1.recv()
            assert error["code"] == "forbidden"
            assert error["message"] == "channel has no presence"


@pytest.mark.parametrize(
    "data",
    [{"typing": "not a bool"}, {"name": 5}, {}, {"typing": [True]}],
)
async def test_presence_data_is_validated_against_the_schema(
    setup: Setup, data: dict[str, Any]
) -> None:
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("u1")) as u1:
        await u1.send(event="setPresence", channel=room, data=data)
        error = await u1.recv()
        assert error["event"] == "error"
        assert error["code"] == "invalid_presence"
        assert error["channel"] == room
        assert "\n" not in error["message"]
        # Nothing was stored, and the connection stays.
        assert await get_state(u1, room) == {}
        await u1.send(event="setPresence", channel=room, data={"typing": True, "extra": "dropped"})
        assert (await u1.recv())["updates"]["u1"]["data"] == {"typing": True, "name": "anonymous"}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"typing": True, "__proto__": {"isAdmin": True}}, "__proto__"),
        ({"typing": True, "name": "x", "meta": {"constructor": {"prototype": {}}}}, "constructor"),
        ({"typing": True, "tags": [{"prototype": 1}]}, "prototype"),
    ],
)
async def test_prototype_keys_are_refused(either: Setup, data: dict[str, Any], key: str) -> None:
    setup = either
    url, room = setup.server.ws_url, ROOM
    async with peer(url, setup.token("watcher")) as watcher, peer(url, setup.token("u1")) as u1:
        await u1.send(event="setPresence", channel=room, data=data)
        assert await u1.recv() == {
            "event": "error",
            "code": "invalid_presence",
            "message": f"presence data may not use the key {key!r}",
            "channel": room,
        }
        # Nothing stored, nothing broadcast, and the connection stays.
        assert await get_state(watcher, room) == {}
        assert await get_state(u1, room) == {}


async def test_without_a_tree_any_object_is_accepted_up_to_the_size_limit(
    schemaless: Setup,
) -> None:
    setup = schemaless
    room = ROOM
    async with peer(setup.server.ws_url, setup.token("u1")) as u1:
        await u1.send(event="setPresence", channel=NOTIFICATIONS, data={"any": ["json"]})
        assert (await u1.recv())["updates"]["u1"]["data"] == {"any": ["json"]}
        await u1.send(event="setPresence", channel=room, data={"a": "x" * 10})
        assert (await u1.recv())["updates"]["u1"]["data"] == {"a": "x" * 10}
        await u1.send(event="setPresence", channel=room, data={"b": "x" * 60})
        error = await u1.recv()
        assert error["code"] == "invalid_presence"
        assert "64 bytes" in error["message"]
        assert await get_state(u1, room) == {"u1": entry({"a": "x" * 10})}


async def test_odd_identities_and_lone_surrogates_are_escaped(schemaless: Setup) -> None:
    setup = schemaless
    odd = 'u"\\\n ü'
    async with peer(setup.server.ws_url, setup.token(odd)) as u1:
        # "\ud800" is valid JSON for a lone surrogate, which UTF-8 cannot carry as such.
        channel = json_string(ROOM)
        await u1.ws.send(
            '{"event": "setPresence", "channel": ' + channel + ', "data": {"k": "\\ud800"}}'
        )
        frame = await u1.recv()
        assert frame["updates"] == {odd: entry({"k": "\ud800"})}


class Failing(MemoryPresence):
    """A presence store whose updates fail, as a shared store that lost its server would."""

    async def update(self, *args: Any, **kwargs: Any) -> PresenceEntry:
        raise RuntimeError("presence backend down")


async def test_a_failing_store_refuses_the_request_and_keeps_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="sock8.gateway"),
        running(presence=Failing()) as setup,
    ):
        async with peer(setup.server.ws_url, setup.token("u1", ["a.b"])) as u1:
            await u1.send(event="setPresence", channel="a.b", data={"x": 1})
            assert await u1.recv() == {
                "event": "error",
                "code": "unavailable",
                "message": "presence is unavailable; retry later",
                "channel": "a.b",
            }
            # Still open, still served.
            await u1.send(event="getPresence", channel="a.b")
            assert (await u1.recv())["event"] == "presenceState"
    failures = [
        r for r in caplog.records if r.name == "sock8.gateway" and "presence" in r.getMessage()
    ]
    assert len(failures) == 1
    assert "presence backend down" in failures[0].getMessage()
