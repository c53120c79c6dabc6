"""sock8.js resumes channels with history in real Chromium: messages published while the page
was offline arrive after it is back, once each and in order, before the live ones."""

from __future__ import annotations

from typing import Any

from sock8 import ChannelRef
from sock8._gateway_defaults import HISTORY_SIZE

from tests.browser.conftest import Tab
from tests.browser.world import LOBBY, World

RECORD_RESETS = (
    "(id) => client.channel(id).on('reset',"
    " (reset) => window.events.push({ kind: 'reset', ...reset }))"
)


def _gone_offline(world: World, tabs: Any) -> tuple[Tab, ChannelRef]:
    """alice's tab, in the lobby, having received "before" and then gone offline; the lobby."""
    alice = tabs("alice")
    # A backoff far longer than the test: the `online` event brings it back.
    alice.start(backoff={"base": 3600, "cap": 3600})
    alice.run(RECORD_RESETS, LOBBY)
    room = world.room("lobby")
    room.emit({"author": "bob", "text": "before"})
    alice.wait("(events) => events.some((e) => e.kind === 'message')")
    alice.context.set_offline(True)
    alice.wait_state("disconnected")
    return alice, room


def _texts_once_live(alice: Tab, room: ChannelRef) -> list[str]:
    """Emit "after", wait for it, and return the texts of every message alice received."""
    room.emit({"author": "bob", "text": "after"})
    alice.wait("(events) => events.some((e) => e.kind === 'message' && e.payload.text === 'after')")
    return [event["payload"]["text"] for event in alice.events("message")]


def test_messages_published_while_offline_arrive_once_in_order(world: World, tabs: Any) -> None:
    alice, room = _gone_offline(world, tabs)
    for n in range(20):
        room.emit({"author": "bob", "text": f"m{n}"})
    alice.context.set_offline(False)
    alice.wait_state("connected", after=2)
    texts = _texts_once_live(alice, room)
    assert texts == ["before", *[f"m{n}" for n in range(20)], "after"]
    assert alice.events("reset") == []


def test_a_gap_older_than_the_history_is_reported_as_a_reset(world: World, tabs: Any) -> None:
    alice, room = _gone_offline(world, tabs)
    size = HISTORY_SIZE  # the gateway's default: one more is a gap it cannot fill
    for n in range(size + 1):
        room.emit({"author": "bob", "text": f"m{n}"})
    alice.context.set_offline(False)
    alice.wait("(events) => events.some((e) => e.kind === 'reset')")
    (reset,) = alice.events("reset")
    assert (reset["channel"], reset["offset"]) == (LOBBY, size + 2)
    assert _texts_once_live(alice, room) == ["before", "after"]
