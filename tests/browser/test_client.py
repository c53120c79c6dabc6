"""sock8.js in real Chromium against a real app and gateway on loopback: messages, presence,
history, refusals, token expiry and refresh, sign-out, gateway restarts and network cuts."""

from __future__ import annotations

from typing import Any

from tests.browser.world import DESIGN, LOBBY, World


def test_two_users_exchange_messages_and_private_notifications_stay_private(
    world: World, tabs: Any
) -> None:
    alice, bob = tabs("alice"), tabs("bob")
    assert alice.start() == {
        "ok": True,
        "identity": "alice",
        "channels": [DESIGN, LOBBY, "notification.alice##userId"],
    }
    assert bob.start()["identity"] == "bob"
    world.room("lobby").emit({"author": "alice", "text": "hi bob"})
    world.notification("alice").emit({"title": "for alice only"})
    world.room("lobby").emit({"author": "bob", "text": "hi alice"})
    for tab in (alice, bob):
        tab.wait(
            "(events) => events.filter((e) => e.kind === 'message').length >= "
            + ("3" if tab is alice else "2")
        )
    assert [e["payload"] for e in bob.events("message")] == [
        {"author": "alice", "text": "hi bob"},
        {"author": "bob", "text": "hi alice"},
    ]
    assert [e["channel"] for e in alice.events("message")] == [
        LOBBY,
        "notification.alice##userId",
        LOBBY,
    ]
    assert alice.states() == ["connecting", "connected"]


def test_a_refused_subscribe_is_typed_and_leaves_the_connection_open(
    world: World, tabs: Any
) -> None:
    bob = tabs("bob")
    bob.start()
    refused = bob.run("() => attempt(client.channel('notification.alice##userId').subscribe())")
    assert refused["ok"] is False
    assert (refused["name"], refused["code"]) == ("Forbidden", "forbidden")
    world.room("lobby").emit({"author": "alice", "text": "still here"})
    bob.wait("(events) => events.some((e) => e.kind === 'message')")
    assert bob.states() == ["connecting", "connected"]


def test_presence_map_follows_set_and_resolves_on_the_senders_update(
    world: World, tabs: Any
) -> None:
    alice, bob = tabs("alice"), tabs("bob")
    alice.start()
    bob.start()
    alice.run(f"() => watchPresence('{LOBBY}')")
    lobby = f"client.channel('{LOBBY}')"
    assert bob.run(f"() => attempt({lobby}.presence.set({{ typing: true }}))") == {
        "ok": True,
        "value": None,
    }
    alice.wait(
        "(events) => events.some((e) => e.kind === 'presence' && e.members.bob?.typing === true)"
    )
    bob.run(f"() => client.channel('{LOBBY}').presence.set({{ typing: false }})")
    alice.wait(
        "(events) => events.some((e) => e.kind === 'presence' && e.members.bob?.typing === false)"
    )
    members = bob.run(
        f"async () => Object.fromEntries([...(await client.channel('{LOBBY}').presence.get())]"
        ".map(([id, m]) => [id, { ...m.data }]))"
    )
    assert members == {"bob": {"typing": False}}
    # A refusal rejects with the error frame's code; the map is left as it was.
    refused = bob.run(f"() => attempt({lobby}.presence.set({{ typing: {{ a: 1 }} }}))")
    assert (refused["ok"], refused["code"]) == (False, "invalid_presence")
    # Leaving the channel removes bob from everyone's map.
    bob.run(f"() => client.channel('{LOBBY}').unsubscribe()")
    alice.wait(
        "(events) => { const last = events.filter((e) => e.kind === 'presence').at(-1);"
        " return last && !('bob' in last.members); }"
    )


def test_history_pages_through_the_auth_route(world: World, tabs: Any) -> None:
    for number in range(5):
        world.room("lobby").emit({"author": "app", "text": f"m{number}"})
    bob = tabs("bob")
    bob.start()
    pages = bob.run(
        f"""async () => {{
          const pages = [];
          let cursor = null;
          do {{
            const page = await client.channel('{LOBBY}').history({{ limit: 2, cursor }});
            pages.push(page.messages.map((m) => m.payload.text));
            cursor = page.nextCursor;
          }} while (cursor !== null);
          return pages;
        }}"""
    )
    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    refused = bob.run(f"() => attempt(client.channel('{DESIGN}').history())")
    assert (refused["ok"], refused["name"], refused["code"]) == (False, "Forbidden", "forbidden")
