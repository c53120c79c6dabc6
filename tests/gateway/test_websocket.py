"""The gateway's WebSocket `/connect` over real loopback sockets: auth, delivery, subscribe,
refresh, expiry, malformed frames, origins (docs/protocol.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sock8
import websockets

from tests.gateway.harness import LOGS, OTHER_ROOM, ROOM, TTL, Setup, both_servers, running
from tests.support.live_server import Peer, peer, until
from tests.support.secret import OTHER_SECRET

pytestmark = [pytest.mark.anyio, both_servers]


@pytest.fixture
def small_frames() -> Iterator[Setup]:
    with running(max_frame_bytes=2048) as setup:
        yield setup


async def expect_closed(client: Peer, code: int, error: str) -> dict[str, Any]:
    closed, frames = await client.closed()
    assert closed == code, frames
    assert frames, "no error frame before the close"
    assert frames[-1]["event"] == "error", frames
    assert frames[-1]["code"] == error, frames
    return frames[-1]


# Authentication


async def test_welcome_then_only_granted_channels(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        positions = client.welcome.get("positions")
        assert client.welcome == {
            "event": "welcome",
            "identity": "u1",
            "channels": sorted([ROOM, LOGS]),
            "expiresAt": int(setup.clock.time()) + TTL,
            # Where each channel with history stands (docs/protocol.md, Recovery).
            "positions": positions,
        }
        assert isinstance(positions, dict)
        assert {channel: position["offset"] for channel, position in positions.items()} == {
            ROOM: 0,
            LOGS: 0,
        }
        setup.publish(ROOM, {"text": "one"})
        setup.publish(OTHER_ROOM, {"text": "not granted"})
        setup.publish(LOGS, "two")
        # The broker keeps one channel's order, and this thread published in this order: a
        # frame of OTHER_ROOM would arrive before "two".
        assert await client.recv() == {"channel": ROOM, "payload": {"text": "one"}}
        assert await client.recv() == {"channel": LOGS, "payload": "two"}


async def test_payloads_are_delivered_as_published(setup: Setup) -> None:
    payload = {"nested": [1, 2.5, None, True, {"k": "ü ✓"}], "big": 2**70}
    async with peer(setup.server.ws_url, setup.token()) as client:
        setup.gateway.broker.publish(LOGS, json.dumps(payload, ensure_ascii=False))
        assert await client.recv() == {"channel": LOGS, "payload": payload}


@pytest.mark.parametrize(
    "kind", ["other secret", "expired", "wrong audience", "publish token", "garbage", "future"]
)
async def test_refused_tokens_close_4001(setup: Setup, kind: str) -> None:
    now = setup.clock.time()
    tokens: dict[str, Callable[[], str]] = {
        "other secret": lambda: setup.token(secret=OTHER_SECRET),
        "expired": lambda: setup.token(at=now - 2 * TTL),
        "wrong audience": lambda: setup.token(audience="someone-else"),
        "publish token": lambda: setup.token(audience="sock8:publish", channels=()),
        "garbage": lambda: "not.a.token",
        "future": lambda: setup.token(at=now + 3600),
    }
    token = tokens[kind]()
    async with peer(setup.server.ws_url) as client:
        await client.send(event="auth", token=token)
        error = await expect_closed(client, 4001, "unauthorized")
        assert error["message"]
    await until(lambda: setup.gateway.stats.connections == 0)


async def test_no_auth_frame_before_the_deadline_closes_4001(setup: Setup) -> None:
    async with peer(setup.server.ws_url) as client:
        # The deadline is armed before the socket is accepted, so it exists by now.
        setup.clock.advance(setup.gateway.limits.auth_timeout)
        await expect_closed(client, 4001, "auth_timeout")


async def test_the_deadline_does_not_fire_after_auth(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        setup.clock.advance(setup.gateway.limits.auth_timeout + 1)
        setup.publish(LOGS, "still here")
        assert await client.recv() == {"channel": LOGS, "payload": "still here"}


@pytest.mark.parametrize(
    "first",
    [
        json.dumps({"event": "subscribe", "channel": LOGS}),
        json.dumps({"token": "x"}),
        "not json",
        b'{"event": "auth", "token": "binary frames are refused"}',
    ],
)
async def test_a_first_frame_that_is_not_auth_closes_4400(setup: Setup, first: str | bytes) -> None:
    async with peer(setup.server.ws_url) as client:
        await client.ws.send(first)
        await expect_closed(client, 4400, "bad_frame")


async def test_a_second_auth_frame_is_a_bad_frame(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="auth", token=setup.token())
        await expect_closed(client, 4400, "bad_frame")


# Frames after auth


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '"auth"',
        "{}",
        '{"event": 5}',
        '{"event": "publish", "channel": "admin.logs", "payload": 1}',
        '{"event": "subscribe"}',
        '{"event": "subscribe", "channel": 7}',
        '{"event": "setPresence", "channel": "admin.logs", "data": [1]}',
        '{"event": "setPresence", "channel": "admin.logs"}',
        '{"event": "refresh"}',
        '{"event": "subscribe", "channel": NaN}',
        "[" * 100_000 + "]" * 100_000,
        b"\x00\x01",
    ],
)
async def test_malformed_frames_close_4400(setup: Setup, frame: str | bytes) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.ws.send(frame)
        await expect_closed(client, 4400, "bad_frame")


async def test_oversized_frames_close_4400(small_frames: Setup) -> None:
    setup = small_frames
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="subscribe", channel=LOGS, padding="x" * 1024)
        assert (await client.recv())["event"] == "subscribed"
        await client.send(event="subscribe", channel=LOGS, padding="x" * 2048)
        error = await expect_closed(client, 4400, "bad_frame")
        assert "2048 bytes" in error["message"]


async def test_oversized_counts_utf8_bytes(small_frames: Setup) -> None:
    setup = small_frames
    async with peer(setup.server.ws_url, setup.token()) as client:
        # 700 characters, 2,100 bytes.
        await client.send(event="subscribe", channel=LOGS, padding="€" * 700)
        await expect_closed(client, 4400, "bad_frame")


async def test_unknown_fields_are_ignored(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="subscribe", channel=LOGS, later="soon", id=3)
        assert await client.recv() == {"event": "subscribed", "channel": LOGS}


# Subscribe / unsubscribe


async def test_unsubscribe_stops_and_subscribe_restarts(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="unsubscribe", channel=ROOM)
        assert await client.recv() == {"event": "unsubscribed", "channel": ROOM}
        setup.publish(ROOM, "missed")
        setup.publish(LOGS, "marker")
        assert await client.recv() == {"channel": LOGS, "payload": "marker"}
        await client.send(event="subscribe", channel=ROOM)
        assert await client.recv() == {"event": "subscribed", "channel": ROOM}
        setup.publish(ROOM, "back")
        assert await client.recv() == {"channel": ROOM, "payload": "back"}


async def test_subscribe_twice_delivers_once(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        for _ in range(2):
            await client.send(event="subscribe", channel=LOGS)
            assert await client.recv() == {"event": "subscribed", "channel": LOGS}
        setup.publish(LOGS, 1)
        setup.publish(ROOM, "marker")
        assert await client.recv() == {"channel": LOGS, "payload": 1}
        assert await client.recv() == {"channel": ROOM, "payload": "marker"}


@pytest.mark.parametrize(
    "channel", [OTHER_ROOM, "admin.*", "admin", "admin.logs ", "ADMIN.LOGS", "", "x" * 600]
)
async def test_subscribe_outside_the_grants_is_forbidden_and_the_connection_stays(
    setup: Setup, channel: str
) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="subscribe", channel=channel)
        assert await client.recv() == {
            "event": "error",
            "code": "forbidden",
            "message": "channel not granted",
            "channel": channel,
        }
        setup.publish(channel, "never")
        setup.publish(LOGS, "still open")
        assert await client.recv() == {"channel": LOGS, "payload": "still open"}


async def test_an_empty_grant_connects_and_receives_nothing(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token(channels=())) as client:
        assert client.welcome["channels"] == []
        await client.send(event="subscribe", channel=LOGS)
        assert (await client.recv())["code"] == "forbidden"


# Refresh and expiry


async def test_refresh_narrows_at_once_and_widens(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token(channels=(ROOM, LOGS))) as client:
        await client.send(event="refresh", token=setup.token(channels=(LOGS, OTHER_ROOM)))
        refreshed = await client.recv()
        assert refreshed == {
            "event": "refreshed",
            "channels": sorted([LOGS, OTHER_ROOM]),
            "expiresAt": int(setup.clock.time()) + TTL,
        }
        setup.publish(ROOM, "revoked")
        setup.publish(OTHER_ROOM, "granted now")
        setup.publish(LOGS, "kept")
        assert await client.recv() == {"channel": OTHER_ROOM, "payload": "granted now"}
        assert await client.recv() == {"channel": LOGS, "payload": "kept"}
        await client.send(event="subscribe", channel=ROOM)
        assert (await client.recv())["code"] == "forbidden"


async def test_refresh_keeps_an_unsubscribed_channel_unsubscribed(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="unsubscribe", channel=ROOM)
        assert (await client.recv())["event"] == "unsubscribed"
        await client.send(event="refresh", token=setup.token())
        assert (await client.recv())["event"] == "refreshed"
        setup.publish(ROOM, "not wanted")
        setup.publish(LOGS, "marker")
        assert await client.recv() == {"channel": LOGS, "payload": "marker"}


async def test_refresh_for_another_identity_is_refused(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        await client.send(event="refresh", token=setup.token("u2"))
        error = await expect_closed(client, 4001, "unauthorized")
        assert "another identity" in error["message"]


async def test_refresh_with_an_older_token_closes_4001(setup: Setup) -> None:
    # The app took ROOM away at the second token; the first one still verifies.
    older = setup.token(channels=(ROOM, LOGS))
    setup.clock.advance(10)
    async with peer(setup.server.ws_url, setup.token(channels=(LOGS,))) as client:
        # The same issue time is fine: only older is refused.
        await client.send(event="refresh", token=setup.token(channels=(LOGS,)))
        assert (await client.recv())["event"] == "refreshed"
        await client.send(event="refresh", token=older)
        error = await expect_closed(client, 4001, "unauthorized")
        assert error["message"] == "refresh refused: the token is older than the current one"
    await until(lambda: setup.gateway.stats.connections == 0)


@pytest.mark.parametrize("kind", ["expired", "other secret", "garbage"])
async def test_refresh_with_a_bad_token_closes_4001(setup: Setup, kind: str) -> None:
    tokens: dict[str, Callable[[], str]] = {
        "expired": lambda: setup.token(at=setup.clock.time() - 2 * TTL),
        "other secret": lambda: setup.token(secret=OTHER_SECRET),
        "garbage": lambda: "x.y.z",
    }
    token = tokens[kind]()
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="refresh", token=token)
        await expect_closed(client, 4001, "unauthorized")


async def test_expiry_closes_4001(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token(ttl=60)) as client:
        setup.clock.advance(59)
        setup.publish(LOGS, "before exp")
        assert await client.recv() == {"channel": LOGS, "payload": "before exp"}
        setup.clock.advance(1)
        error = await expect_closed(client, 4001, "expired")
        assert "refresh" in error["message"]
    await until(lambda: setup.clock.pending == 0 and setup.gateway.stats.connections == 0)


async def test_refresh_postpones_expiry(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token(ttl=60)) as client:
        setup.clock.advance(30)
        await client.send(event="refresh", token=setup.token(ttl=60))
        assert (await client.recv())["expiresAt"] == int(setup.clock.time()) + 60
        setup.clock.advance(31)  # past the first token's exp
        setup.publish(LOGS, "alive")
        # The timer would have run before this delivery (same loop, scheduled first).
        assert await client.recv() == {"channel": LOGS, "payload": "alive"}
        setup.clock.advance(29)
        await expect_closed(client, 4001, "expired")


# Origins and cleanup


@pytest.fixture
def origins() -> Iterator[Setup]:
    # Written as people write them: compared as browsers send them (https://app.example).
    with running(allowed_origins=["HTTPS://App.Example:443/"]) as setup:
        yield setup


async def test_a_foreign_origin_is_refused_before_the_upgrade(origins: Setup) -> None:
    with pytest.raises(websockets.InvalidStatus) as caught:
        async with peer(origins.server.ws_url, origin="https://evil.example"):
            pass
    assert caught.value.response.status_code == 403
    async with peer(origins.server.ws_url, origins.token(), origin="https://app.example"):
        pass
    async with peer(origins.server.ws_url, origins.token()):  # no Origin: not a browser
        pass


async def test_everything_is_released_when_clients_leave(setup: Setup) -> None:
    broker = setup.gateway.broker
    assert isinstance(broker, sock8.MemoryBroker)
    for _ in range(3):
        async with peer(setup.server.ws_url, setup.token()) as client:
            await client.send(event="setPresence", channel=ROOM, data={"typing": True})
            assert (await client.recv())["event"] == "presenceUpdate"
            assert setup.gateway.stats.connections == 1
            assert broker.subscriber_count(ROOM) == 1
    await until(lambda: setup.gateway.stats.connections == 0)
    await until(lambda: broker.subscriber_count(ROOM) == 0 and broker.subscriber_count(LOGS) == 0)
    presence = setup.gateway.presence
    assert isinstance(presence, sock8.gateway.MemoryPresence)
    await until(lambda: len(presence) == 0)
    assert setup.clock.pending == 0
