"""sock8.js recovering by itself, in real Chromium: expired tokens (4001), in-band refresh,
sign-out (401), gateway restarts (1012), network cuts (1006), offline and online."""

from __future__ import annotations

from typing import Any

from sock8.gateway import create_app

from tests.browser.world import DESIGN, LOBBY, TTL, World


def test_an_expired_token_is_replaced_once_then_a_refused_one_closes(
    world: World, tabs: Any
) -> None:
    alice = tabs("alice")
    alice.start()
    first_exp = alice.run("() => client.expiresAt")
    # The gateway's clock passes exp: close 4001; the client fetches one new token, reconnects.
    world.clock.advance(TTL + 1)
    alice.wait(
        "(events, exp) => events.some((e) => e.kind === 'channels') && client.expiresAt > exp"
        " && client.state === 'connected'",
        first_exp,
    )
    assert world.authenticated["alice"] == 2
    assert alice.run("() => client.expiresAt") == first_exp + TTL + 1
    assert "disconnected" not in alice.states()  # straight back, no backoff
    # Now the app hands out tokens that are already expired: refused again right after a
    # 4001, so the client stops for good instead of looping.
    world.s8.skew = -2 * TTL
    world.clock.advance(TTL + 1)
    alice.wait_state("closed")
    assert alice.run("() => client.error.code") == "unauthorized"
    assert alice.run("() => client.error.name") == "Unauthorized"
    assert world.authenticated["alice"] == 3


def test_a_token_is_refreshed_in_band_before_exp(world: World, tabs: Any) -> None:
    alice = tabs("alice", clock=True)
    alice.start()
    exp = alice.run("() => client.expiresAt")
    world.clock.advance(100)  # the app's clock too: the next token expires later
    # The page's clock reaches exp - 30 s: the client refreshes on the open connection.
    alice.page.clock.run_for((TTL - 29) * 1000)
    alice.wait("(events) => events.filter((e) => e.kind === 'channels').length === 2")
    assert alice.run("() => client.expiresAt") == exp + 100
    assert alice.states() == ["connecting", "connected"]  # never reconnected
    assert world.authenticated["alice"] == 2
    world.room("lobby").emit({"author": "bob", "text": "after the refresh"})
    alice.wait("(events) => events.some((e) => e.kind === 'message')")


def test_a_401_from_the_auth_route_closes_for_good_without_retrying(
    world: World, tabs: Any
) -> None:
    stranger = tabs(None)
    outcome = stranger.start()
    assert (outcome["ok"], outcome["name"]) == (False, "Unauthorized")
    assert outcome["code"] == "unauthorized"
    assert stranger.states() == ["connecting", "closed"]
    alice = tabs("alice")
    alice.start()
    alice.logout()
    refused = alice.run("() => attempt(client.refresh())")
    assert (refused["ok"], refused["code"]) == (False, "unauthorized")
    alice.wait_state("closed")
    # Closed for good: a gateway restart brings no reconnect, no new request to the app.
    world.restart_gateway()
    asked = sum(world.authenticated.values())
    assert alice.run("() => attempt(client.connect())")["code"] == "unauthorized"
    assert sum(world.authenticated.values()) == asked
    assert alice.states() == ["connecting", "connected", "closed"]


def test_a_gateway_restart_reconnects_and_restores_subscriptions_and_presence(
    world: World, tabs: Any
) -> None:
    alice, bob = tabs("alice"), tabs("bob")
    alice.start()
    bob.start()
    bob.run(f"() => watchPresence('{LOBBY}')")
    alice.run(f"() => client.channel('{LOBBY}').presence.set({{ typing: true }})")
    alice.run(f"() => client.channel('{DESIGN}').unsubscribe()")
    bob.wait("(events) => events.some((e) => e.kind === 'presence' && e.members.alice)")
    world.restart_gateway()
    for tab in (alice, bob):
        tab.wait_state("connected", after=2)
        closes = [e for e in tab.events("state") if e["state"] == "disconnected"]
        assert closes[0]["code"] == 1012, closes
    assert world.authenticated["alice"] == 1  # the token still held: no new one was needed
    # alice's presence came back by itself, on the new gateway.
    bob.wait(
        "(events) => events.filter((e) => e.kind === 'presence').slice(-1)"
        ".some((e) => e.members.alice?.typing === true)"
    )
    # design stays unsubscribed; the lobby is delivered again.
    world.room("design").emit({"author": "carol", "text": "not for alice"})
    world.room("lobby").emit({"author": "bob", "text": "welcome back"})
    alice.wait("(events) => events.some((e) => e.kind === 'message')")
    assert [e["payload"]["text"] for e in alice.events("message")] == ["welcome back"]


def test_an_abrupt_drop_reconnects(world: World, tabs: Any) -> None:
    alice = tabs("alice")
    alice.start()
    world.gateway.drop_connections()
    alice.wait_state("connected", after=2)
    states = alice.events("state")
    assert [e["state"] for e in states] == [
        "connecting",
        "connected",
        "disconnected",
        "connecting",
        "connected",
    ]
    assert states[2]["code"] == 1006
    world.room("lobby").emit({"author": "bob", "text": "still there?"})
    alice.wait("(events) => events.some((e) => e.kind === 'message')")


def test_offline_pauses_and_online_reconnects_at_once(world: World, tabs: Any) -> None:
    alice = tabs("alice")
    # A backoff far longer than the test: only the `online` event can bring it back in time.
    alice.start(backoff={"base": 3600, "cap": 3600})
    alice.context.set_offline(True)
    alice.wait_state("disconnected")
    assert alice.run("() => navigator.onLine") is False
    asked = world.authenticated["alice"]
    alice.context.set_offline(False)
    alice.wait_state("connected", after=2)
    assert world.authenticated["alice"] == asked  # the token still held
    world.room("lobby").emit({"author": "bob", "text": "online again"})
    alice.wait("(events) => events.some((e) => e.kind === 'message')")


def test_backoff_grows_with_full_jitter_while_the_gateway_is_down(world: World, tabs: Any) -> None:
    alice = tabs("alice", clock=True)
    alice.start()
    # Playwright takes a float as epoch seconds.
    alice.page.clock.pause_at(alice.run("() => Date.now() / 1000") + 1)
    world.gateway.stop()
    delays = []
    for attempt in range(9):
        # Each attempt fails (nothing listens), then the client waits for the page's clock.
        alice.wait(
            "(events, n) => events.filter((e) => e.state === 'disconnected').length > n", attempt
        )
        delays.append(alice.events("state")[-1]["retryIn"])
        if attempt < 8:
            alice.page.clock.run_for(int(delays[-1] * 1000) + 1)
    ceilings = [min(20, 0.5 * 2**n) for n in range(9)]
    pairs = zip(delays, ceilings, strict=True)
    assert all(0 <= delay < ceiling for delay, ceiling in pairs), delays
    assert world.authenticated["alice"] == 1  # the token held all along
    world.gateway.start(world.new_gateway())
    alice.page.clock.run_for(int(delays[-1] * 1000) + 1)
    alice.wait_state("connected", after=2)


def test_a_bad_frame_close_4400_closes_for_good(world: World, tabs: Any) -> None:
    # A gateway whose frame limit is below the auth frame: it answers bad_frame and 4400, which
    # another attempt would only repeat.
    world.gateway.stop()
    world.gateway.start(
        create_app(world.s8, channels=world.channels, clock=world.clock, max_frame_bytes=64)
    )
    alice = tabs("alice")
    outcome = alice.start()
    assert (outcome["ok"], outcome["name"]) == (False, "ProtocolError")
    assert outcome["code"] == "bad_frame"
    assert alice.states() == ["connecting", "closed"]
    assert alice.run("() => client.error.closeCode") == 4400
    assert world.authenticated["alice"] == 1
