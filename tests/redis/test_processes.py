"""Real `sock8 gateway --redis` processes: a publish to one reaches the clients of another, and a
node killed with SIGKILL leaves no ghost: its presence entries expire and the surviving node's
subscribers get the removal."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sock8
from sock8.gateway import ManualClock
from sock8.redis import RedisPresence

from tests.gateway.harness import LOGS, ROOM
from tests.redis.nodes import held, node
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer, until
from tests.support.processes import reap
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio

TIMEOUT = 20.0


@contextlib.contextmanager
def gateway_process(
    redis_url: str, *, by_environment: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """`python -m sock8 gateway --port 0 --redis URL` (or `SOCK8_REDIS_URL`); yields the process
    with its `port` attribute set once it listens."""
    env = {**os.environ, "SOCK8_SECRET": SECRET}
    argv = [sys.executable, "-m", "sock8", "gateway", "--port", "0", "--log-level", "info"]
    if by_environment:
        env["SOCK8_REDIS_URL"] = redis_url
    else:
        argv += ["--redis", redis_url]
    process = subprocess.Popen(  # noqa: S603 - our own arguments
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        log: list[str] = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("the gateway did not start:\n" + "".join(log))
            log.append(line)
            found = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                process.port = int(found.group(1))  # type: ignore[attr-defined]
                break
        yield process
    finally:
        reap(process, TIMEOUT)


def port(process: subprocess.Popen[str]) -> int:
    found: int = process.port  # type: ignore[attr-defined]
    return found


def token(identity: str, channels: list[str]) -> str:
    return sock8.Signer(SECRET).sign(identity, channels)


async def payload(client: Peer) -> Any:
    frame = await client.recv()
    assert "payload" in frame, frame
    return frame["payload"]


async def test_a_publish_to_one_process_reaches_the_clients_of_the_other(
    redis_server: RedisServer,
) -> None:
    with (
        gateway_process(redis_server.url) as one,
        gateway_process(redis_server.url, by_environment=True) as two,
    ):
        async with (
            peer(f"ws://127.0.0.1:{port(one)}/connect", token("alice", [LOGS])) as alice,
            peer(f"ws://127.0.0.1:{port(two)}/connect", token("bob", [LOGS])) as bob,
        ):
            await held(redis_server, LOGS, nodes=2)
            publish = sock8.Signer(SECRET, audience="sock8:publish", ttl=60).sign("p", [])
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.post(
                    f"http://127.0.0.1:{port(one)}/publish",
                    json={"channel": LOGS, "payload": "hi"},
                    headers={"Authorization": f"Bearer {publish}"},
                )
                assert answer.status_code == 202
                health = await http.get(f"http://127.0.0.1:{port(two)}/health")
                assert health.json() == {"ok": True, "connections": 1, "broker": "ok"}
            assert await payload(alice) == "hi"
            assert await payload(bob) == "hi"
        await held(redis_server, LOGS, nodes=0)


async def test_a_killed_node_leaves_no_ghost_beyond_the_ttl(redis_server: RedisServer) -> None:
    clock = ManualClock()  # the real time now: the killed process stamps with it
    with (
        gateway_process(redis_server.url) as doomed,
        node(redis_server, clock, grants=(ROOM,)) as survivor,
    ):
        presence = survivor.gateway.presence
        assert isinstance(presence, RedisPresence)
        async with (
            peer(f"ws://127.0.0.1:{port(doomed)}/connect", token("alice", [ROOM])) as alice,
            peer(survivor.server.ws_url, survivor.token("bob")) as bob,
        ):
            await held(redis_server, ROOM, nodes=2)
            await alice.send(event="setPresence", channel=ROOM, data={"here": True})
            assert (await alice.recv())["updates"]["alice"]["data"] == {"here": True}
            assert (await bob.recv())["updates"]["alice"]["data"] == {"here": True}
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(TIMEOUT)
            # Killed: no leave ran. The entry stays until its TTL, refreshed by no one.
            await bob.send(event="getPresence", channel=ROOM)
            assert set((await bob.recv())["state"]) == {"alice"}
            rounds = presence.rounds
            steps = int(presence.ttl // presence.refresh) + 2
            for _ in range(steps):
                clock.advance(presence.refresh)
                rounds += 1
                await until(lambda: presence.rounds >= rounds)  # noqa: B023
            frame = await bob.recv()
            assert frame == {
                "event": "presenceUpdate",
                "channel": ROOM,
                "updates": {},
                "removals": ["alice"],
            }


def test_the_command_line_gives_the_gateway_redis_stores(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sock8 import cli
    from sock8.redis import RedisBroker

    parser = cli.build_parser()
    argv = ["gateway", "--redis", redis_server.url, "--history-size", "7"]
    options = cli._gateway_options(parser.parse_args(argv))
    assert isinstance(options["broker"], RedisBroker)
    assert options["broker"].history_size == 7
    assert isinstance(options["presence"], RedisPresence)
    assert options["presence"].carried_by(options["broker"])
    monkeypatch.setenv(cli.REDIS_ENV, redis_server.url)
    from_environment = cli._gateway_options(parser.parse_args(["gateway"]))
    assert isinstance(from_environment["broker"], RedisBroker)
    monkeypatch.delenv(cli.REDIS_ENV)
    assert "broker" not in cli._gateway_options(parser.parse_args(["gateway"]))
