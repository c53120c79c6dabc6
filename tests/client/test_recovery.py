"""`sock8.Client` resumes channels with history after a reconnect: what it missed arrives once,
in order, before the live messages; what it cannot get back is reported (`ChannelReset`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sock8
from sock8.client import Backoff, ChannelReset, ConnectionState
from sock8.client.dispatch import Dispatcher
from sock8.client.grants import GrantState
from sock8.client.inbox import Inbox
from sock8.client.route import Token
from sock8.gateway import ManualClock

from tests.client.test_client import Relay, Sleeper, StateLog, World, make_world, receive, running

CONNECTED = ConnectionState.CONNECTED


@pytest.fixture
def world() -> Iterator[World]:
    """The app and the gateway, served."""
    with running(make_world()) as served:
        yield served


@pytest.fixture
def small_history() -> Iterator[World]:
    """The app and a gateway keeping 5 messages per channel."""
    with running(make_world(), history_size=5) as served:
        yield served


def _client(world: World, relay: Relay, **options: Any) -> tuple[sock8.Client, Sleeper, StateLog]:
    world.s8.gateway_url = relay.ws_url
    sleeper, log = Sleeper(), StateLog()
    client = world.client(
        "alice",
        backoff=Backoff(base=1, cap=4, factor=2, reset_after=60, random=lambda: 0.5),
        clock=ManualClock().time,
        sleep=sleeper,
        on_state=log,
        **options,
    )
    return client, sleeper, log


def test_missed_messages_arrive_once_in_order_after_a_reconnect(world: World) -> None:
    async def main() -> None:
        assert world.served is not None
        resets: list[ChannelReset] = []
        async with Relay(world.served.port) as relay:
            client, sleeper, log = _client(world, relay, on_reset=resets.append)
            async with client:
                room = world.room("r1")
                await log.reach(CONNECTED)
                room.emit({"n": -1})
                first = await receive(client)
                assert first.offset == 1
                relay.refusing = True
                relay.sever()
                _, woken = await sleeper.next()
                for n in range(50):
                    room.emit({"n": n})
                relay.refusing = False
                woken.set_result(None)
                await log.reach(CONNECTED)
                missed = [await receive(client) for _ in range(50)]
                assert [message.payload["n"] for message in missed] == list(range(50))
                assert [message.offset for message in missed] == list(range(2, 52))
                assert {message.epoch for message in missed} == {first.epoch}
                room.emit({"n": "live"})
                live = await receive(client)
                assert (live.payload, live.offset) == ({"n": "live"}, 52)
                assert resets == []

    asyncio.run(main())


def test_a_gap_older_than_the_history_is_reported(small_history: World) -> None:
    world = small_history

    async def main() -> None:
        assert world.served is not None
        reset = asyncio.get_running_loop().create_future()
        async with Relay(world.served.port) as relay:
            client, sleeper, log = _client(world, relay, on_reset=reset.set_result)
            async with client:
                room = world.room("r1")
                await log.reach(CONNECTED)
                room.emit("seen")
                first = await receive(client)
                relay.refusing = True
                relay.sever()
                _, woken = await sleeper.next()
                for n in range(10):
                    room.emit(n)
                relay.refusing = False
                woken.set_result(None)
                assert await asyncio.wait_for(reset, 10) == ChannelReset(
                    room.id, 11, first.epoch or ""
                )
                room.emit("live")
                # None of the lost ones: the next message is the live one.
                live = await receive(client)
                assert (live.payload, live.offset) == ("live", 12)

    asyncio.run(main())


# The client's bookkeeping, frame by frame.


async def _dispatcher() -> tuple[Dispatcher, GrantState, Inbox, list[ChannelReset]]:
    grants, inbox = GrantState(), Inbox(100)
    resets: list[ChannelReset] = []
    return Dispatcher(inbox, grants, lambda update: None, resets.append), grants, inbox, resets


def test_duplicates_and_messages_before_the_answer_are_dropped() -> None:
    async def main() -> None:
        dispatcher, grants, inbox, resets = await _dispatcher()
        grants.positions["c"] = (3, "e")
        grants.accept(
            {
                "event": "welcome",
                "channels": ["c"],
                "positions": {"c": {"offset": 6, "epoch": "e"}},
            },
            _token(),
        )
        assert grants.restoring_frames() == [
            {"event": "subscribe", "channel": "c", "since": {"offset": 3, "epoch": "e"}}
        ]
        # A live message before the answer: the recovery gives it again.
        await dispatcher.dispatch({"channel": "c", "payload": 6, "offset": 6, "epoch": "e"})
        await dispatcher.dispatch(
            {"event": "subscribed", "channel": "c", "recovered": True, "offset": 6, "epoch": "e"}
        )
        for offset in (4, 5, 6, 5, 7):
            await dispatcher.dispatch(
                {"channel": "c", "payload": offset, "offset": offset, "epoch": "e"}
            )
        inbox.end()
        got = []
        while (message := await inbox.get()) is not None:
            got.append(message.payload)
        assert got == [4, 5, 6, 7]
        assert grants.positions["c"] == (7, "e")
        assert resets == []

    asyncio.run(main())


def test_a_malformed_welcome_position_is_ignored() -> None:
    grants = GrantState()
    for value in [None, 3, {"offset": -1, "epoch": "e"}, {"offset": True, "epoch": "e"}, {}]:
        grants.accept({"event": "welcome", "channels": ["c"], "positions": {"c": value}}, _token())
        assert grants.positions == {}
        assert grants.restoring_frames() == []


def _token() -> Token:
    return Token("t", "ws://x/connect", "alice", ("c",), 0, 0.0)


@pytest.mark.parametrize(
    ("answer", "reset"),
    [
        # A gateway that does not resume: nothing is known to be lost.
        ({"event": "subscribed", "channel": "c"}, False),
        # A refused resume: what was missed is not known, and the app is told.
        ({"event": "error", "code": "unavailable", "message": "history", "channel": "c"}, True),
        ({"event": "error", "code": "rate_limited", "message": "slow", "channel": "c"}, True),
    ],
)
def test_a_resume_that_is_not_answered_as_one_lets_live_messages_through(
    answer: dict[str, Any], reset: bool
) -> None:
    async def main() -> None:
        dispatcher, grants, inbox, resets = await _dispatcher()
        grants.positions["c"] = (3, "e")
        welcome = {"offset": 6, "epoch": "e"}
        grants.accept(
            {"event": "welcome", "channels": ["c"], "positions": {"c": welcome}}, _token()
        )
        assert grants.recovering == {"c"}
        await dispatcher.dispatch(answer)
        assert grants.recovering == set()
        await dispatcher.dispatch({"channel": "c", "payload": 7, "offset": 7, "epoch": "e"})
        inbox.end()
        message = await inbox.get()
        assert message is not None
        assert message.payload == 7
        assert resets == ([ChannelReset("c", 3, "e")] if reset else [])

    asyncio.run(main())


def test_resumes_left_unanswered_are_given_up_and_reported() -> None:
    # The gateway sends one rate_limited notice for several refused requests: the resumes it
    # does not name are never answered, and the client gives them up after its request timeout.
    async def main() -> None:
        dispatcher, grants, inbox, resets = await _dispatcher()
        grants.positions.update({"a": (3, "e"), "b": (5, "e")})
        positions = {"a": {"offset": 4, "epoch": "e"}, "b": {"offset": 9, "epoch": "e"}}
        grants.accept(
            {"event": "welcome", "channels": ["a", "b"], "positions": positions}, _token()
        )
        await dispatcher.dispatch({"channel": "b", "payload": 10, "offset": 10, "epoch": "e"})
        dispatcher.give_up_resuming()
        assert grants.recovering == set()
        assert resets == [ChannelReset("a", 3, "e"), ChannelReset("b", 5, "e")]
        await dispatcher.dispatch({"channel": "b", "payload": 11, "offset": 11, "epoch": "e"})
        inbox.end()
        message = await inbox.get()
        assert message is not None
        assert message.payload == 11

    asyncio.run(main())
