"""sock8.js resumes channels with history in real Chromium: messages published while the page
was offline arrive after it is back, once each and in order, before the live ones."""

from __future__ import annotations

from typing import Any

from sock8._gateway_defaults import HISTORY_SIZE

from tests.browser.world import World

LOBBY = "chat.lobby##roomId.messages"

RECORD_RESETS = (
    "(id) => client.channel(id).on('reset',"
    " (reset) => window.events.push({ kind: 'reset', ...reset }))"
)


def test_messages_published_while_offline_arrive_once_in_order(world: World, tabs: Any) -> None:
    alice = tabs("alice")
    # A backoff far longer than the test: the `online` event brings it back.
    alice.start(backoff={"base": 3600, "cap": 3600})
    alice.run(RECORD_RESETS, LOBBY)
    room = world.room("lobby")
    room.emit({"author": "bob", "text": "before"})
    alice.wait("(events) => events.some((e) => e.kind === 'message')")
    alice.context.set_offline(True)
    alice.wait_state("disconnected")
    for n in range(20):
        room.emit({"author": "bob", "text": f"m{n}"})
    alice.context.set_offline(False)
    alice.wait_state("connected", after=2)
    room.emit({"author": "bob", "text": "after"})
    alice.wait("(events) => events.some((e) => e.kind === 'message' && e.payload.text === 'after')")
    texts = [event["payload"]["text"] for event in alice.events("message")]
    assert texts == ["before", *[f"m{n}" for n in range(20)], "after"]
    assert alice.events("reset") == []


def test_a_gap_older_than_the_history_is_reported_as_a_reset(world: World, tabs: Any) -> None:
    alice = tabs("alice")
    alice.start(backoff={"base": 3600, "cap": 3600})
    alice.run(RECORD_RESETS, LOBBY)
    room = world.room("lobby")
    room.emit({"author": "bob", "text": "before"})
    alice.wait("(events) => events.some((e) => e.kind === 'message')")
    alice.context.set_offline(True)
    alice.wait_state("disconnected")
    size = HISTORY_SIZE  # the gateway's default: one more is a gap it cannot fill
    for n in range(size + 1):
        room.emit({"author": "bob", "text": f"m{n}"})
    alice.context.set_offline(False)
    alice.wait("(events) => events.some((e) => e.kind === 'reset')")
    (reset,) = alice.events("reset")
    assert (reset["channel"], reset["offset"]) == (LOBBY, size + 2)
    room.emit({"author": "bob", "text": "after"})
    alice.wait("(events) => events.some((e) => e.kind === 'message' && e.payload.text === 'after')")
    texts = [event["payload"]["text"] for event in alice.events("message")]
    assert texts == ["before", "after"]
