"""Recovery over real sockets: offsets and epochs on history channels, `subscribe` with `since`
giving back what a client missed (or saying it cannot), strict `since` parsing."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
import sock8
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.harness import LOGS, ROOM, Setup, both_servers, running
from tests.support.live_server import Peer, peer
from tests.support.secret import SECRET

pytestmark = [
    pytest.mark.anyio,
    both_servers,
]


def persist(setup: Setup, channel: str, payload: Any) -> None:
    """Publish into the gateway's broker with history, as a channel with `history=True` does."""
    setup.gateway.broker.publish(channel, json.dumps(payload), persist=True)


def since_of(frame: dict[str, Any]) -> dict[str, Any]:
    """The position a frame (a message, a `subscribed`, a welcome's entry) gives."""
    return {"offset": frame["offset"], "epoch": frame["epoch"]}


async def recover(client: Peer, channel: str, since: dict[str, Any]) -> dict[str, Any]:
    """Send `subscribe` with `since`; the `subscribed` answer."""
    await client.send(event="subscribe", channel=channel, since=since)
    answer = await client.recv()
    assert answer["event"] == "subscribed", answer
    assert answer["channel"] == channel
    return answer


async def test_a_client_back_from_a_disconnect_gets_exactly_what_it_missed() -> None:
    with running() as setup:
        async with peer(setup.server.ws_url, setup.token()) as client:
            welcome = client.welcome["positions"][LOGS]
            assert welcome["offset"] == 0
            persist(setup, LOGS, "seen")
            seen = await client.recv()
            assert seen == {
                "channel": LOGS,
                "payload": "seen",
                "offset": 1,
                "epoch": seen["epoch"],
            }
            assert seen["epoch"] == welcome["epoch"]
        for n in range(50):
            persist(setup, LOGS, n)
        async with peer(setup.server.ws_url, setup.token()) as client:
            assert client.welcome["positions"][LOGS] == {"offset": 51, "epoch": seen["epoch"]}
            answer = await recover(client, LOGS, since_of(seen))
            assert answer == {
                "event": "subscribed",
                "channel": LOGS,
                "recovered": True,
                "offset": 51,
                "epoch": seen["epoch"],
            }
            missed = [await client.recv() for _ in range(50)]
            assert [frame["payload"] for frame in missed] == list(range(50))
            assert [frame["offset"] for frame in missed] == list(range(2, 52))
            persist(setup, LOGS, "live")
            live = await client.recv()
            assert (live["payload"], live["offset"]) == ("live", 52)


async def test_no_duplicate_and_no_gap_at_the_seam_while_publishing() -> None:
    with running(history_size=1000) as setup:
        async with peer(setup.server.ws_url, setup.token()) as client:
            persist(setup, ROOM, -1)
            first = await client.recv()
            total = 300

            # Published from another thread while the subscription recovers: some of these are
            # in the history read, some are held live, some come after; each arrives once.
            def publish_all() -> None:
                for n in range(total):
                    persist(setup, ROOM, n)

            thread = threading.Thread(target=publish_all)
            thread.start()
            try:
                await client.send(event="subscribe", channel=ROOM, since=since_of(first))
                # Live messages may come before the answer (the client drops them: the
                # recovery gives them again); from the answer on, each offset once, in order.
                frame = await client.recv()
                while frame.get("event") != "subscribed":
                    frame = await client.recv()
                assert frame["recovered"] is True
                offsets: list[int] = []
                while len(offsets) < total:
                    offsets.append((await client.recv())["offset"])
            finally:
                thread.join()
    assert offsets == list(range(first["offset"] + 1, total + 2))


async def test_a_gap_larger_than_the_history_is_not_recovered() -> None:
    with running(history_size=10) as setup:
        async with peer(setup.server.ws_url, setup.token()) as client:
            start = client.welcome["positions"][LOGS]
        for n in range(11):
            persist(setup, LOGS, n)
        async with peer(setup.server.ws_url, setup.token()) as client:
            answer = await recover(client, LOGS, start)
            assert answer == {
                "event": "subscribed",
                "channel": LOGS,
                "recovered": False,
                "offset": 11,
                "epoch": start["epoch"],
            }
            persist(setup, LOGS, "live")
            # Nothing from the history: the next frame is the live message.
            live = await client.recv()
            assert (live["payload"], live["offset"]) == ("live", 12)
        # Exactly the history's size is still recovered.
        async with peer(setup.server.ws_url, setup.token()) as client:
            answer = await recover(client, LOGS, {"offset": 2, "epoch": start["epoch"]})
            assert answer["recovered"] is True
            assert [(await client.recv())["offset"] for _ in range(10)] == list(range(3, 13))


async def test_a_restarted_broker_has_a_new_epoch() -> None:
    with running() as setup:
        persist(setup, LOGS, "before")
        async with peer(setup.server.ws_url, setup.token()) as client:
            before = client.welcome["positions"][LOGS]
            assert before["offset"] == 1
    with running() as setup:  # a new process: a new MemoryBroker
        persist(setup, LOGS, "after")
        async with peer(setup.server.ws_url, setup.token()) as client:
            assert client.welcome["positions"][LOGS]["epoch"] != before["epoch"]
            answer = await recover(client, LOGS, before)
            assert answer["recovered"] is False
            assert answer["offset"] == 1
            assert answer["epoch"] == client.welcome["positions"][LOGS]["epoch"]


async def test_a_position_ahead_of_the_stream_is_not_recovered(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        epoch = client.welcome["positions"][LOGS]["epoch"]
        answer = await recover(client, LOGS, {"offset": 5, "epoch": epoch})
        assert (answer["recovered"], answer["offset"]) == (False, 0)


async def test_messages_without_history_carry_no_offset(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        setup.publish(LOGS, "at most once")
        assert await client.recv() == {"channel": LOGS, "payload": "at most once"}


async def test_channels_the_tree_keeps_no_history_of_have_no_position() -> None:
    s8 = sock8.Sock8(secret=SECRET)
    channels = s8.channels({LOGS: sock8.channel(str, history=True), "chat.{roomId}.messages": str})
    with running(s8, channels=channels) as setup:
        async with peer(setup.server.ws_url, setup.token()) as client:
            assert set(client.welcome["positions"]) == {LOGS}
            await client.send(event="subscribe", channel=ROOM, since={"offset": 1, "epoch": "x"})
            # No history to recover from: a plain answer.
            assert await client.recv() == {"event": "subscribed", "channel": ROOM}


@pytest.mark.parametrize(
    "since",
    [
        "later",
        [],
        {"offset": 1},
        {"epoch": "e"},
        {"offset": 1, "epoch": "e", "extra": 1},
        {"offset": -1, "epoch": "e"},
        {"offset": 1.0, "epoch": "e"},
        {"offset": True, "epoch": "e"},
        {"offset": "1", "epoch": "e"},
        {"offset": 2**53, "epoch": "e"},
        {"offset": 1, "epoch": ""},
        {"offset": 1, "epoch": 7},
        {"offset": 1, "epoch": "e" * 65},
    ],
)
async def test_a_nonsensical_since_is_a_bad_frame(setup: Setup, since: Any) -> None:
    async with peer(setup.server.ws_url, setup.token()) as client:
        await client.send(event="subscribe", channel=LOGS, since=since)
        code, seen = await client.closed()
        assert code == 4400
        assert seen[-1]["code"] == "bad_frame"
        assert "since" in seen[-1]["message"]


# Any interleaving of publishes, disconnects and reconnects within the history window.

Step = tuple[str, int]
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(1, 5)),
        st.tuples(st.just("drop"), st.just(0)),
        st.tuples(st.just("back"), st.just(0)),
    ),
    max_size=12,
)


async def _play(setup: Setup, steps: list[Step], start: int) -> None:
    received: list[int] = []
    position: dict[str, Any] | None = None
    client: Peer | None = None
    stack: Any = None
    published = start

    async def drain() -> None:
        # Every message published so far has arrived once the last one has.
        nonlocal position
        while received[-1:] != [published - 1] and published > start:
            frame = await client.recv()  # type: ignore[union-attr]
            if frame.get("channel") == ROOM and "offset" in frame:
                received.append(frame["payload"])
                position = since_of(frame)

    async def connect() -> None:
        nonlocal client, stack, position
        stack = peer(setup.server.ws_url, setup.token())
        client = await stack.__aenter__()
        if position is None:
            position = client.welcome["positions"][ROOM]
        else:
            answer = await recover(client, ROOM, position)
            assert answer["recovered"] is True, answer

    await connect()
    for kind, count in steps:
        if kind == "publish":
            for _ in range(count):
                persist(setup, ROOM, published)
                published += 1
            if client is not None:
                await drain()
        elif kind == "drop" and client is not None:
            await stack.__aexit__(None, None, None)
            client = None
        elif kind == "back" and client is None:
            await connect()
            await drain()
    if client is None:
        await connect()
        await drain()
    await stack.__aexit__(None, None, None)
    assert received == list(range(start, published))


def test_any_interleaving_within_the_window_delivers_each_message_once_in_order() -> None:
    with running(history_size=1000) as setup:
        runs = [0]

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(steps=STEPS)
        def check(steps: list[Step]) -> None:
            # Each example continues the same stream, from where the last one left it.
            start = runs[0]
            runs[0] += sum(count for kind, count in steps if kind == "publish")
            asyncio.run(_play(setup, steps, start))

        check()
