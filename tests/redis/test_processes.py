"""Real `sock8 gateway --redis` processes: a publish to one reaches the clients of another, and a
node killed with SIGKILL leaves no ghost: its presence entries expire and the surviving node's
subscribers get the removal."""

from __future__ import annotations

import signal

import httpx
import pytest
import sock8
from sock8.gateway import ManualClock
from sock8.redis import RedisPresence

from tests.gateway.harness import LOGS, ROOM
from tests.redis.nodes import held, node
from tests.redis.server import RedisServer
from tests.support.live_server import peer, until
from tests.support.processes import gateway_process
from tests.support.secret import SECRET
from tests.support.ws_frames import payload

pytestmark = pytest.mark.anyio

TIMEOUT = 20.0


def token(identity: str, channels: list[str]) -> str:
    return sock8.Signer(SECRET).sign(identity, channels)


async def test_a_publish_to_one_process_reaches_the_clients_of_the_other(
    redis_server: RedisServer,
) -> None:
    with (
        gateway_process("--redis", redis_server.url) as one,
        gateway_process(env={"SOCK8_REDIS_URL": redis_server.url}) as two,
    ):
        async with (
            peer(f"ws://127.0.0.1:{one.port}/connect", token("alice", [LOGS])) as alice,
            peer(f"ws://127.0.0.1:{two.port}/connect", token("bob", [LOGS])) as bob,
        ):
            await held(redis_server, LOGS, nodes=2)
            publish = sock8.Signer(SECRET, audience="sock8:publish", ttl=60).sign("p", [])
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.post(
                    f"http://127.0.0.1:{one.port}/publish",
                    json={"channel": LOGS, "payload": "hi"},
                    headers={"Authorization": f"Bearer {publish}"},
                )
                assert answer.status_code == 202
                health = await http.get(f"http://127.0.0.1:{two.port}/health")
                assert health.json() == {"ok": True, "connections": 1, "broker": "ok"}
            assert await payload(alice) == "hi"
            assert await payload(bob) == "hi"
        await held(redis_server, LOGS, nodes=0)


async def test_a_killed_node_leaves_no_ghost_beyond_the_ttl(redis_server: RedisServer) -> None:
    clock = ManualClock()  # the real time now: the killed process stamps with it
    with (
        gateway_process("--redis", redis_server.url) as doomed,
        node(redis_server, clock, grants=(ROOM,)) as survivor,
    ):
        presence = survivor.gateway.presence
        assert isinstance(presence, RedisPresence)
        async with (
            peer(f"ws://127.0.0.1:{doomed.port}/connect", token("alice", [ROOM])) as alice,
            peer(survivor.server.ws_url, survivor.token("bob")) as bob,
        ):
            await held(redis_server, ROOM, nodes=2)
            await alice.send(event="setPresence", channel=ROOM, data={"here": True})
            assert (await alice.recv())["updates"]["alice"]["data"] == {"here": True}
            assert (await bob.recv())["updates"]["alice"]["data"] == {"here": True}
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait(TIMEOUT)
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
