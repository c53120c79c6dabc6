"""Revocation across gateway nodes on a real Redis (`RedisRevocations`): revoked on one node,
the connection on the other closes; a node that starts later still refuses the token; later
tokens work; entries expire."""

from __future__ import annotations

import pytest
import sock8
from sock8.gateway import ManualClock
from sock8.redis.revocations import RedisRevocations
from sock8.revocation import Revocation

from tests.gateway.harness import LOGS, NOW, TTL, Setup
from tests.redis.nodes import FAST, node
from tests.redis.server import RedisServer
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio


def shared(server: RedisServer) -> RedisRevocations:
    return RedisRevocations(server.url, backoff=FAST)


async def closed_with(client: Peer, code: int, error: str) -> None:
    closed, frames = await client.closed()
    assert closed == code, frames
    assert frames[-1]["code"] == error, frames


async def refused(setup: Setup, token: str) -> None:
    async with peer(setup.server.ws_url) as client:
        await client.send(event="auth", token=token)
        await closed_with(client, 4001, "unauthorized")


async def test_revoked_on_one_node_closes_the_connection_on_the_other(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    s8 = sock8.Sock8(SECRET, token_ttl=TTL)
    with (
        node(redis_server, clock, s8, revocations=shared(redis_server)) as a,
        node(redis_server, clock, revocations=shared(redis_server), max_token_ttl=TTL) as b,
    ):
        await until(lambda: redis_server.numsub("sock8:revocations") == 2)
        old = b.token("u1")
        async with peer(b.server.ws_url, old) as on_b, peer(a.server.ws_url, b.token("u2")) as u2:
            clock.advance(1)
            await s8.arevoke(identity="u1")  # s8's gateway is `a`
            await closed_with(on_b, 4001, "revoked")
            a.publish(LOGS, "u2 stays")
            assert await u2.recv() == {"channel": LOGS, "payload": "u2 stays"}
        await refused(a, old)
        await refused(b, old)
        async with peer(b.server.ws_url, b.token("u1")) as again:
            assert again.welcome["identity"] == "u1"
        assert redis_server.client.zcard("sock8:revoked") == 1


async def test_a_node_that_starts_later_learns_live_revocations(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock, revocations=shared(redis_server), max_token_ttl=TTL) as a:
        marked = sock8.Signer(SECRET, ttl=TTL).sign("u1", [LOGS], now=NOW, jti="j1")
        a.gateway.revoke(Revocation(jti="j1"))
    with node(redis_server, clock, revocations=shared(redis_server), max_token_ttl=TTL) as b:
        await until(lambda: redis_server.numsub("sock8:revocations") == 1)
        await refused(b, marked)


async def test_expired_revocations_are_not_learned_and_are_removed(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock(NOW)
    with node(redis_server, clock, revocations=shared(redis_server), max_token_ttl=TTL) as a:
        a.gateway.revoke(Revocation(jti="old"))
        clock.advance(TTL + 1)
        a.gateway.revoke(Revocation(jti="new"))
        members = redis_server.client.zrange("sock8:revoked", 0, -1)
        assert [b'"new"' in member for member in members] == [True]
    store = shared(redis_server)
    with node(redis_server, clock, revocations=store, max_token_ttl=TTL):
        await until(lambda: len(store) == 1)


def test_undecodable_revocations_are_dropped() -> None:
    from sock8.redis.revocations import _decode

    assert _decode(b"not json") is None
    assert _decode(b'{"jti": "j"}') is None  # no until
    assert _decode(b'{"jti": "j", "until": "soon"}') is None
    assert _decode(b'{"jti": "j", "identity": "u", "until": 1}') is None
    assert _decode(b'{"jti": "j", "until": 5}') == (Revocation(jti="j"), 5.0)
