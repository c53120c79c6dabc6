"""`python -m sock8.demo --redis`: the demo across two gateway processes that share a Redis.

It starts a private `redis-server` (a free loopback port, no persistence, stopped at the end),
two `sock8 gateway --redis` processes (node A and node B), and two instances of the demo app
(`DemoApp`), as an app deployed twice behind a load balancer would run: each instance hands its
clients the URL of its own gateway, both publish straight to Redis (`s8.publisher =
RedisBroker(url)`) and share the users table. alice signs in at the first instance and is served
by node A, bob at the second and is served by node B; the walk then checks that messages,
presence and history cross the nodes, that refresh narrowing and `forbidden` behave as on one
node, and that a node holds a Redis channel only while it has local subscribers.

`run_cluster()` returns `True` when every expectation held; `python -m sock8.demo --redis` exits
0 then, 1 otherwise. Every wait is on a message, a reply or a state, with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from sock8.client import Forbidden, PresenceUpdate, RequestRefused
from sock8.demo.app import DemoApp, User
from sock8.demo.scenario import WAIT, Out, Scenario, ScenarioFailed
from sock8.demo.serving import StartError, listen, serving
from sock8.tree import ChannelTree

if TYPE_CHECKING:
    import redis

__all__ = ["ClusterScenario", "Node", "RedisProcess", "run_cluster"]

START_TIMEOUT = 30.0
"""Seconds redis-server or a gateway process may take to answer after it was started."""
STOP_TIMEOUT = 10.0
"""Seconds a process has to exit after SIGTERM before it is killed."""
LOG_TAIL = 20
"""Lines of a process's log shown when it failed to start."""
CHANNELS_SPEC = f"{__name__}:channels"
"""What the gateway processes get as `--channels`: the demo app's own channel tree."""


def __getattr__(name: str) -> Any:
    # The gateway processes import the demo's tree from here (`--channels`); it is built by
    # `DemoApp` itself, so the gateways apply exactly the app's presence schemas and history.
    if name == "channels":
        tree: ChannelTree = DemoApp("ws://127.0.0.1:1/connect").channels
        return tree
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(f"      {line}" for line in lines[-LOG_TAIL:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class RedisProcess:
    """A private `redis-server`: loopback only, no persistence (no RDB, no AOF)."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    client: redis.Redis
    """One connection for the walk's own questions (PING, `PUBSUB NUMSUB`)."""

    @property
    def url(self) -> str:
        """`redis://host:port/0`."""
        return f"redis://{self.host}:{self.port}/0"

    @classmethod
    @contextlib.contextmanager
    def running(cls, directory: Path, host: str) -> Iterator[RedisProcess]:
        """Start one in `directory` (its working directory, nothing is written there), wait
        until it answers PING, stop it at the end.

        Raises:
            StartError: `redis-server` is not installed or did not answer.
        """
        import redis

        executable = shutil.which("redis-server")
        if executable is None:
            raise StartError("redis-server is not installed (Debian: apt-get install redis-server)")
        port = _free_port(host)
        log = directory / "redis.log"
        arguments = [executable, "--port", str(port), "--bind", host, "--save", ""]
        arguments += ["--appendonly", "no", "--dir", str(directory), "--logfile", str(log)]
        process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603 - our own arguments
        client = redis.Redis(host=host, port=port, protocol=2, socket_timeout=5)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise StartError(f"redis-server did not start on port {port}:\n{_tail(log)}")
                time.sleep(0.02)
            yield cls(host, port, process, client)
        finally:
            client.close()
            _stop(process)

    def numsub(self, redis_channel: str) -> int:
        """How many connections hold `redis_channel` (`PUBSUB NUMSUB`)."""
        answer = self.client.pubsub_numsub(redis_channel)
        return int(answer[0][1])


@dataclass
class Node:
    """One `sock8 gateway --redis` process."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ws_url(self) -> str:
        """The node's WebSocket URL, `ws://host:port/connect`."""
        return f"ws://{self.host}:{self.port}/connect"

    @property
    def http_url(self) -> str:
        """The node's HTTP base URL."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, name: str, redis_url: str, secret: str, directory: Path, host: str
    ) -> AsyncIterator[Node]:
        """Start `python -m sock8 gateway --redis URL --channels <the demo's tree>` on a free
        port, wait until its `/health` says the broker is `ok`, stop it at the end.

        Raises:
            StartError: it exited or did not become healthy in time.
        """
        port = _free_port(host)
        log = directory / f"gateway-{name}.log"
        argv = [sys.executable, "-m", "sock8", "gateway", "--host", host, "--port", str(port)]
        argv += ["--redis", redis_url, "--channels", CHANNELS_SPEC, "--log-level", "warning"]
        env = {**os.environ, "SOCK8_SECRET": secret}
        with log.open("wb") as output:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                argv, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        node = cls(name, host, port, process, log)
        try:
            await node._healthy()
            yield node
        finally:
            _stop(process)

    async def _healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.http_url, timeout=WAIT) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    answer = await http.get("/health")
                    if answer.status_code == 200 and answer.json().get("broker") == "ok":
                        return
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise StartError(
                        f"gateway {self.name} did not start on port {self.port}:\n{_tail(self.log)}"
                    )
                # A process starting: there is nothing to wait on but its answer.
                await asyncio.sleep(0.05)

    async def health(self) -> dict[str, Any]:
        """The node's `GET /health` body."""
        async with httpx.AsyncClient(base_url=self.http_url, timeout=WAIT) as http:
            body: dict[str, Any] = (await http.get("/health")).json()
        return body

    async def history(self, channel: str, token: str) -> list[Any]:
        """The payloads of the node's `GET /history/{channel}`, newest first."""
        async with httpx.AsyncClient(base_url=self.http_url, timeout=WAIT) as http:
            answer = await http.get(
                f"/history/{quote(channel, safe='')}", headers={"Authorization": f"Bearer {token}"}
            )
        if answer.status_code != 200:
            raise ScenarioFailed(f"GET /history/{channel} on {self.name}: {answer.status_code}")
        return [item["payload"] for item in answer.json()["messages"]]


@dataclass
class Site:
    """One instance of the demo app, served on its own port, sending its clients to `node`."""

    app: DemoApp
    base_url: str
    node: Node


class ClusterScenario(Scenario):
    """The walk across the nodes; each user signs in at their own app instance (and so is
    served by its node). The transcript helpers are the single-node scenario's.

    Arguments:
        sites: the user each app instance serves -> that instance.
        redis: the Redis both nodes share.
        out: where transcript lines go.
    """

    def __init__(self, sites: dict[str, Site], redis: RedisProcess, out: Out) -> None:
        first = next(iter(sites.values()))
        super().__init__(first.app, first.base_url, out)
        self.sites = sites
        self.redis = redis

    def site_url(self, user: str) -> str:
        """`user`'s own app instance (whose clients its node serves)."""
        return self.sites[user].base_url

    async def holders(self, channel: str, expected: int) -> int:
        """How many gateway nodes hold `channel`'s Redis channel (`PUBSUB NUMSUB`), once that
        is `expected` or `WAIT` seconds passed: nodes subscribe and unsubscribe in the
        background, after the client's request was answered."""
        from sock8.redis.keys import Keys

        redis_channel = Keys().channel(channel)

        async def reached() -> None:
            # PUBSUB NUMSUB has no notification to wait on: ask again until it matches.
            while self.redis.numsub(redis_channel) != expected:
                await asyncio.sleep(0.02)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reached(), WAIT)
        return self.redis.numsub(redis_channel)

    async def run(self) -> None:
        """Run every step.

        Raises:
            ScenarioFailed: an expectation did not hold.
        """
        a, b = self.sites["alice"], self.sites["bob"]
        app = a.app
        lobby = app.room("lobby").id
        alice_inbox = app.notification("alice").id
        bob_inbox = app.notification("bob").id

        self.step("two gateway processes share one Redis")
        for site in (a, b):
            health = await site.node.health()
            self.say(site.node.name, f"GET /health -> {health}")
            self.check(health.get("broker") == "ok", f"{site.node.name} is connected to Redis")

        self.step("alice is served by node A, bob by node B")
        alice = await self.connect("alice")
        bob_presence: asyncio.Queue[PresenceUpdate] = asyncio.Queue()
        bob = await self.connect("bob", on_presence=bob_presence.put_nowait)
        counts = [(await site.node.health())["connections"] for site in (a, b)]
        self.say("nodes", f"connections: A {counts[0]}, B {counts[1]}")
        self.check(counts == [1, 1], "each node holds exactly one of the two connections")
        held = await self.holders(lobby, 2)
        self.say("redis", f"PUBSUB NUMSUB {lobby} -> {held}")
        self.check(held == 2, "both nodes subscribed to the lobby in Redis")

        self.step("a message posted through bob's app instance reaches both nodes' clients once")
        async with httpx.AsyncClient(base_url=b.base_url, cookies=self.sessions["bob"]) as http:
            response = await http.post("/rooms/lobby/messages", json={"text": "hi from B"})
        self.say("bob", f"POST /rooms/lobby/messages -> {response.status_code} (app instance B)")
        to_alice, to_bob = await self.receive("alice", alice), await self.receive("bob", bob)
        self.check(
            to_alice == to_bob and to_alice.payload == {"author": "bob", "text": "hi from B"},
            "alice (node A) and bob (node B) both received it",
        )

        self.step("notifications are routed to the one node that serves their user")
        await self.notified_then_lobby(
            "app A",
            [
                ("bob", "Across the cluster", "from app instance A"),
                ("alice", "Welcome back", "3 unread messages"),
            ],
            [
                (
                    "alice",
                    alice,
                    "alice got her notification, then the lobby message: no duplicate, not bob's",
                ),
                (
                    "bob",
                    bob,
                    "bob got his notification, then the lobby message: no duplicate, not alice's",
                ),
            ],
        )

        self.step("presence crosses the nodes")
        await alice.set_presence(lobby, {"typing": True})
        self.say("alice", f"setPresence {lobby} {{'typing': true}} (on node A)")
        await self.presence_seen("bob", bob_presence, "alice", typing=True)
        state = await bob.get_presence(lobby)
        self.say("bob", f"getPresence {lobby} on node B -> {sorted(state)}")
        self.check(
            state.get("alice") is not None and state["alice"].data == {"typing": True},
            "node B sees alice typing, set on node A",
        )
        refused = await self.refused(
            "alice",
            alice.set_presence(lobby, {"typing": "maybe"}),
            RequestRefused,
            lambda exc: f"setPresence {{'typing': 'maybe'}} -> error {exc.code}",
        )
        self.check(refused, "the gateways apply the app's presence schema (--channels)")

        self.step("history is the same from every node")
        tokens = {user: app.s8.issue_token(user, [lobby]).token for user in ("alice", "bob")}
        from_a = await a.node.history(lobby, tokens["alice"])
        from_b = await b.node.history(lobby, tokens["bob"])
        texts = [item["text"] for item in from_a]
        self.say("alice", f"GET /history/{lobby} on node A -> {texts}")
        self.say("bob", f"GET /history/{lobby} on node B -> {[i['text'] for i in from_b]}")
        self.check(
            from_a == from_b and texts == ["standup in 5 minutes", "hi from B"],
            "both nodes return the two lobby messages, newest first",
        )
        page = await bob.history(lobby, limit=1)
        self.check(
            [item.payload["text"] for item in page.messages] == ["standup in 5 minutes"],
            "so does the app's history route (app instance B)",
        )

        self.step("a subscribe outside the grants is refused on node B; bob stays connected")
        refused = await self.refused(
            "bob",
            bob.subscribe(alice_inbox),
            Forbidden,
            lambda exc: f"subscribe {alice_inbox} -> error {exc.code}",
        )
        self.check(refused and bob.state == "connected", "bob may not read alice's notifications")

        self.step("bob leaves the lobby: node B drops its Redis subscription, node A keeps it")
        await self.bob_leaves_the_lobby(bob, "users table (shared by both instances)")
        held = await self.holders(lobby, 1)
        self.say("redis", f"PUBSUB NUMSUB {lobby} -> {held}")
        self.check(held == 1, "only node A holds the lobby in Redis now")
        await app.say("lobby", "alice", "bob left; planning his surprise party")
        await app.notify("bob", "Reminder", "dentist at 3")
        message = await self.receive("alice", alice)
        self.check(message.channel == lobby, "alice still receives the lobby")
        message = await self.receive("bob", bob)
        self.check(message.channel == bob_inbox, "bob's next message is his notification")

        self.step("clients leave: no node holds a Redis channel for them")
        await self.close()
        held = sum([await self.holders(channel, 0) for channel in (lobby, alice_inbox, bob_inbox)])
        self.say("redis", f"PUBSUB NUMSUB of the lobby and both inboxes -> {held} in all")
        self.check(held == 0, "no node holds a Redis channel for a client that left")


async def run_cluster(out: Out = print, *, host: str = "127.0.0.1") -> bool:
    """Start redis-server, two gateway processes and two app instances; run the walk; stop all.

    Returns:
        whether every expectation held; the transcript went to `out`, a failure included.
    """
    try:
        from sock8.redis import RedisBroker
    except ImportError as exc:
        out(f"FAILED: {exc}")
        return False
    secret = secrets.token_urlsafe(32)
    scenario: ClusterScenario | None = None
    with tempfile.TemporaryDirectory(prefix="sock8-demo-redis-") as directory:
        try:
            async with contextlib.AsyncExitStack() as stack:
                redis = stack.enter_context(RedisProcess.running(Path(directory), host))
                out(f"sock8 demo across two gateways: redis-server at {redis.url} (no persistence)")
                nodes = [
                    await stack.enter_async_context(
                        Node.running(name, redis.url, secret, Path(directory), host)
                    )
                    for name in ("A", "B")
                ]
                broker = RedisBroker(redis.url)
                stack.callback(broker.close)
                sites: dict[str, Site] = {}
                users: dict[str, User] | None = None
                for user, node in zip(("alice", "bob"), nodes, strict=True):
                    site = await stack.enter_async_context(_site(node, secret, broker, host))
                    # One users table for both instances, as one database behind both.
                    if users is None:
                        users = site.app.users
                    site.app.users = users
                    sites[user] = site
                    out(
                        f"   node {node.name}: sock8 gateway --redis (pid {node.process.pid}) at "
                        f"{node.ws_url}; app instance at {site.base_url} sends {user} there"
                    )
                scenario = ClusterScenario(sites, redis, out)
                try:
                    await scenario.run()
                finally:
                    await scenario.close()
        except StartError as exc:
            out(f"FAILED: {exc}")
            return False
        except ScenarioFailed as exc:
            out("")
            out(f"FAILED at step {scenario.steps if scenario else 0}: {exc}")
            return False
    assert scenario is not None
    out("")
    out(f"all {scenario.steps} steps passed ({scenario.checks} checks)")
    return True


@contextlib.asynccontextmanager
async def _site(node: Node, secret: str, publisher: Any, host: str) -> AsyncIterator[Site]:
    """An instance of the demo app on a free port, sending its clients to `node` and publishing
    straight to Redis through `publisher`."""
    sock = listen(host, 0)
    port = sock.getsockname()[1]
    app = DemoApp(node.ws_url, secret=secret)
    app.s8.publisher = publisher
    async with serving(app, sock, name=f"the demo app for node {node.name}", timeout=WAIT):
        yield Site(app, f"http://{host}:{port}", node)
