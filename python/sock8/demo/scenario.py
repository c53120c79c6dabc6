"""The scripted demo: the example app and its gateway on a free port, and `sock8.Client`s that
walk through what sock8 promises, asserting each step as they print it.

`run()` returns `True` when every expectation held; `python -m sock8.demo` exits 0 then, 1
otherwise. Nothing here sleeps to wait for something: every wait is on a message, a reply or a
state, with a timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

import sock8
from sock8.client import ClientMessage, Forbidden, PresenceUpdate, Unauthorized
from sock8.demo.app import AUTH_PATH, GATEWAY_PATH, SESSION_COOKIE, DemoApp, demo_secret
from sock8.demo.serving import DemoServer, StartError, listen, server_config, serving

__all__ = ["Scenario", "ScenarioFailed", "run", "serve_forever"]

WAIT = 5.0
"""Seconds any single expectation may take before the step fails."""

Out = Callable[[str], object]
Refusal = TypeVar("Refusal", bound=Exception)


class ScenarioFailed(AssertionError):
    """An expectation of the scenario did not hold."""


def _show(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(", ", ": "))


class Scenario:
    """The script, against a running `DemoApp` at `base_url`.

    Arguments:
        app: the app (the scenario calls its Python API for the server side: emit, users).
        base_url: `http://host:port` where the app is served.
        out: where transcript lines go (`print`).
    """

    def __init__(self, app: DemoApp, base_url: str, out: Out) -> None:
        self.app = app
        self.base_url = base_url
        self.out = out
        self.steps = 0
        self.checks = 0
        self.sessions: dict[str, dict[str, str]] = {}
        """The session cookie of each signed-in user."""
        self._clients: list[sock8.Client] = []

    # Transcript

    def step(self, title: str) -> None:
        """Start a numbered step."""
        self.steps += 1
        self.out("")
        self.out(f"{self.steps}. {title}")

    def say(self, who: str, text: str) -> None:
        """A line of the transcript: who did or saw what."""
        self.out(f"   {who:<6} {text}")

    def check(self, condition: bool, what: str) -> None:
        """Assert `what`; print it as passed, or stop the scenario."""
        if not condition:
            raise ScenarioFailed(what)
        self.checks += 1
        self.out(f"   {'ok':<6} {what}")

    # Helpers

    def site_url(self, user: str) -> str:
        """Where `user` signs in and fetches tokens: the one app here."""
        return self.base_url

    async def login(self, user: str) -> dict[str, str]:
        """Sign `user` in through the app's login route; return the session cookie."""
        async with httpx.AsyncClient(base_url=self.site_url(user)) as http:
            response = await http.post("/login", json={"user": user})
        session = response.cookies.get(SESSION_COOKIE)
        if response.status_code != 200 or session is None:
            raise ScenarioFailed(f"{user} could not sign in: HTTP {response.status_code}")
        self.say(user, f"POST /login -> {SESSION_COOKIE} cookie")
        self.sessions[user] = {SESSION_COOKIE: session}
        return self.sessions[user]

    async def connect(self, user: str, **options: Any) -> sock8.Client:
        """Sign `user` in and connect a `sock8.Client` with the session cookie."""
        cookies = await self.login(user)
        client = sock8.Client(self.site_url(user) + AUTH_PATH, cookies=cookies, **options)
        self._clients.append(client)
        await client.connect(timeout=WAIT)
        self.say(user, f"connected as {client.identity!r}, granted {', '.join(client.channels)}")
        return client

    async def receive(self, who: str, client: sock8.Client) -> ClientMessage:
        """The next message `client` receives; print it."""
        try:
            message = await asyncio.wait_for(anext(client), WAIT)
        except TimeoutError:
            raise ScenarioFailed(f"{who} received nothing within {WAIT:g} s") from None
        except StopAsyncIteration:
            raise ScenarioFailed(f"{who}'s client stopped: {client.error}") from None
        self.say(who, f"<- {message.channel}  {_show(message.payload)}")
        return message

    async def received_in_order(
        self, who: str, client: sock8.Client, channels: list[str], what: str
    ) -> None:
        """Receive as many messages as `channels` has; check they came on those, in order."""
        received = [(await self.receive(who, client)).channel for _ in channels]
        self.check(received == channels, what)

    async def refused(
        self,
        who: str,
        attempt: Awaitable[object],
        refusal: type[Refusal],
        shown: Callable[[Refusal], str],
    ) -> bool:
        """Await `attempt`; whether it raised `refusal` (printed for `who` as `shown` says)."""
        try:
            await attempt
        except refusal as exc:
            self.say(who, shown(exc))
            return True
        return False

    async def notified_then_lobby(
        self,
        sender: str,
        notices: list[tuple[str, str, str]],
        receivers: list[tuple[str, sock8.Client, str]],
    ) -> None:
        """The app sends each `(user, title, body)` notification of `notices`, then a lobby
        message; each `(who, client, what)` of `receivers` must get their own notification,
        then the lobby message (had they been sent another's, it would come before that)."""
        lobby = self.app.room("lobby").id
        for user, title, body in notices:
            await self.app.notify(user, title, body)
            self.say(sender, f"emit {self.app.notification(user).id}")
        await self.app.say("lobby", "app", "standup in 5 minutes")
        self.say(sender, f"emit {lobby}")
        for who, client, what in receivers:
            inbox = self.app.notification(who).id
            await self.received_in_order(who, client, [inbox, lobby], what)

    async def bob_leaves_the_lobby(self, bob: sock8.Client, users_table: str) -> None:
        """The app takes bob out of the lobby (`users_table` says where); check that his
        refreshed token grants only his notifications."""
        self.app.remove_member("lobby", "bob")
        self.say("app", f"{users_table}: bob leaves the lobby")
        await bob.refresh()
        self.say("bob", f"refresh -> granted {', '.join(bob.channels)}")
        self.check(
            bob.channels == (self.app.notification("bob").id,),
            "bob's new token grants only his notifications",
        )

    async def presence_seen(
        self, who: str, updates: asyncio.Queue[PresenceUpdate], identity: str, typing: bool
    ) -> None:
        """Wait until `who` sees `identity`'s typing flag become `typing`."""

        async def seen() -> None:
            while True:
                update = await updates.get()
                entry = update.updates.get(identity)
                if entry is not None and entry.data.get("typing") is typing:
                    return

        try:
            await asyncio.wait_for(seen(), WAIT)
        except TimeoutError:
            raise ScenarioFailed(f"{who} never saw {identity} typing={typing}") from None
        self.say(who, f"<- presenceUpdate: {identity} typing={str(typing).lower()}")

    async def close(self) -> None:
        """Close every client the scenario opened."""
        for client in self._clients:
            await client.close()

    # The script

    async def run(self) -> None:
        """Run every step.

        Raises:
            ScenarioFailed: an expectation did not hold.
        """
        app = self.app
        lobby = app.room("lobby").id
        alice_inbox = app.notification("alice").id
        bob_inbox = app.notification("bob").id

        self.step("alice and bob sign in to the app; their clients fetch tokens and connect")
        alice = await self.connect("alice")
        bob_presence: asyncio.Queue[PresenceUpdate] = asyncio.Queue()
        bob = await self.connect("bob", on_presence=bob_presence.put_nowait)
        self.check(
            set(alice.channels) == {alice_inbox, lobby, app.room("design").id},
            "alice holds her notifications and her two rooms",
        )
        self.check(
            set(bob.channels) == {bob_inbox, lobby}, "bob holds his notifications and the lobby"
        )

        self.step("a visitor without a session is refused, and the client stops for good")
        visitor = sock8.Client(self.base_url + AUTH_PATH)
        self._clients.append(visitor)
        refused = await self.refused(
            "guest",
            visitor.connect(timeout=WAIT),
            Unauthorized,
            lambda exc: f"connect() raised Unauthorized: {exc}",
        )
        self.check(
            refused and visitor.state == "closed", "the visitor's client is closed, not retrying"
        )

        self.step("each user receives only their own notifications")
        await self.notified_then_lobby(
            "app",
            [
                ("alice", "Welcome back", "3 unread messages"),
                ("bob", "Your order shipped", "Arrives Tuesday"),
            ],
            [
                (
                    "alice",
                    alice,
                    "alice got her notification, then the lobby message; not bob's notification",
                ),
                (
                    "bob",
                    bob,
                    "bob got his notification, then the lobby message; not alice's notification",
                ),
            ],
        )

        self.step("a shared room delivers to both")
        async with httpx.AsyncClient(base_url=self.base_url, cookies=self.sessions["bob"]) as http:
            response = await http.post("/rooms/lobby/messages", json={"text": "hi all"})
        self.say(
            "bob", f"POST /rooms/lobby/messages {{'text': 'hi all'}} -> {response.status_code}"
        )
        to_alice, to_bob = await self.receive("alice", alice), await self.receive("bob", bob)
        self.check(
            to_alice == to_bob
            and to_alice.channel == lobby
            and to_alice.payload == {"author": "bob", "text": "hi all"},
            "both received bob's message in the lobby",
        )

        self.step("presence shows who is typing")
        await alice.set_presence(lobby, {"typing": True})
        self.say("alice", f"setPresence {lobby} {{'typing': true}}")
        await self.presence_seen("bob", bob_presence, "alice", typing=True)
        state = await bob.get_presence(lobby)
        typing = sorted(who for who, entry in state.items() if entry.data.get("typing"))
        self.say("bob", f"getPresence {lobby} -> typing: {', '.join(typing) or 'nobody'}")
        self.check(typing == ["alice"], "bob sees that alice, and only alice, is typing")
        await alice.set_presence(lobby, {"typing": False})
        await self.presence_seen("bob", bob_presence, "alice", typing=False)

        self.step("history of the room, through the app's route")
        page = await bob.history(lobby, limit=2)
        for item in page.messages:
            self.say("bob", f"history  {_show(item.payload)}")
        self.check(
            [item.payload["text"] for item in page.messages] == ["hi all", "standup in 5 minutes"],
            "the two latest lobby messages, newest first",
        )

        self.step("a subscribe outside the grants is refused; the connection stays open")
        refused = await self.refused(
            "alice",
            alice.subscribe(bob_inbox),
            Forbidden,
            lambda exc: f"subscribe {bob_inbox} -> error {exc.code}",
        )
        self.check(refused, "alice may not subscribe to bob's notifications")
        await app.notify("alice", "Still here?", "yes")
        message = await self.receive("alice", alice)
        self.check(
            alice.state == "connected" and message.channel == alice_inbox,
            "alice is still connected and receiving",
        )

        self.step("the app removes bob from the lobby; his refreshed token narrows the grants")
        await self.bob_leaves_the_lobby(bob, "users table")
        await app.say("lobby", "alice", "bob left; planning his surprise party")
        self.say("app", f"emit {lobby}")
        await app.notify("bob", "Reminder", "dentist at 3")
        self.say("app", f"emit {bob_inbox}")
        message = await self.receive("alice", alice)
        self.check(message.channel == lobby, "alice still receives the lobby")
        message = await self.receive("bob", bob)
        self.check(
            message.channel == bob_inbox,
            "bob's next message is his notification: lobby deliveries stopped at the refresh",
        )
        refused = await self.refused(
            "bob", bob.history(lobby), Forbidden, lambda _: f"history {lobby} -> 401"
        )
        self.check(refused, "the history route refuses bob too: it runs authorize again")


async def run(out: Out = print, *, host: str = "127.0.0.1") -> bool:
    """Serve the demo app on a free port of `host`, run the scenario against it, stop.

    Returns:
        whether every expectation held; the transcript went to `out`, a failure included.
    """
    sock = listen(host, 0)
    port = sock.getsockname()[1]
    base_url = f"http://{host}:{port}"
    app = DemoApp(f"ws://{host}:{port}{GATEWAY_PATH}/connect")
    scenario = Scenario(app, base_url, out)
    try:
        async with serving(app, sock, name="the demo app", timeout=WAIT):
            out(f"sock8 demo: the app and its gateway in one process at {base_url}")
            out(
                f"   auth route {base_url}{AUTH_PATH}, "
                f"gateway ws://{host}:{port}{GATEWAY_PATH}/connect"
            )
            try:
                await scenario.run()
            finally:
                await scenario.close()
    except StartError as exc:
        out(f"FAILED: {exc}")
        return False
    except ScenarioFailed as exc:
        out("")
        out(f"FAILED at step {scenario.steps}: {exc}")
        return False
    out("")
    out(f"all {scenario.steps} steps passed ({scenario.checks} checks)")
    return True


async def serve_forever(host: str = "127.0.0.1", port: int = 8000, out: Out = print) -> None:
    """Serve the demo app until interrupted, for manual use (a browser page at `/`)."""
    sock = listen(host, port)
    port = sock.getsockname()[1]
    # A secret that outlives the process: pages left open reconnect after a restart.
    app = DemoApp(f"ws://{host}:{port}{GATEWAY_PATH}/connect", secret=demo_secret())
    out(f"sock8 demo app at http://{host}:{port}/  (Ctrl-C to stop)")
    out(f"   auth route  POST http://{host}:{port}{AUTH_PATH}/authenticate")
    out(f"   gateway     ws://{host}:{port}{GATEWAY_PATH}/connect  (sock8.js at /gateway/sock8.js)")
    out(f"   users       {', '.join(app.users)}")
    out("   sign in as two users from two browser profiles, or one normal and one private")
    out("   window: the windows of one profile share the session cookie, hence the user")
    try:
        await DemoServer(server_config(app), signals=True).serve(sockets=[sock])
    finally:
        sock.close()
