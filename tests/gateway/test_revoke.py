"""Revocation on one gateway over real loopback sockets: `s8.revoke` in-process, `POST /revoke`
over HTTP (`HttpPublisher`), live connections closed with 4001 `revoked`, later tokens refused
until they would have expired, refreshes and history refused, entries dropped once harmless."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sock8
from sock8.cli import main
from sock8.gateway import Gateway, ManualClock
from sock8.gateway.revocations import MemoryRevocations
from sock8.http_publisher import HttpPublisher
from sock8.revocation import Revocation

from tests.gateway.harness import LOGS, NOW, ROOM, TTL, Setup, both_servers, running
from tests.support.live_server import Peer, peer, until
from tests.support.secret import SECRET

pytestmark = pytest.mark.anyio


async def closed_with(client: Peer, code: int, error: str) -> dict[str, Any]:
    closed, frames = await client.closed()
    assert closed == code, frames
    assert frames, "no error frame before the close"
    assert frames[-1]["code"] == error, frames
    return frames[-1]


async def refused_at_auth(setup: Setup, token: str) -> dict[str, Any]:
    async with peer(setup.server.ws_url) as client:
        await client.send(event="auth", token=token)
        return await closed_with(client, 4001, "unauthorized")


def app_with_gateway() -> sock8.Sock8:
    return sock8.Sock8(SECRET, token_ttl=TTL)


@both_servers
async def test_revoking_an_identity_in_process_closes_its_connections_only() -> None:
    s8 = app_with_gateway()
    with running(s8) as setup:
        assert s8.revoker is setup.gateway
        async with (
            peer(setup.server.ws_url, setup.token("u1")) as first,
            peer(setup.server.ws_url, setup.token("u1", [LOGS])) as second,
            peer(setup.server.ws_url, setup.token("u2")) as other,
        ):
            setup.clock.advance(5)
            await asyncio.to_thread(s8.revoke, identity="u1")
            error = await closed_with(first, 4001, "revoked")
            assert error["message"]
            await closed_with(second, 4001, "revoked")
            # Another identity keeps its connection and its deliveries.
            setup.publish(LOGS, "still here")
            assert await other.recv() == {"channel": LOGS, "payload": "still here"}
        await until(lambda: setup.gateway.stats.connections == 0)


@both_servers
async def test_tokens_issued_before_are_refused_and_later_ones_work() -> None:
    s8 = app_with_gateway()
    with running(s8) as setup:
        old = setup.token("u1")
        setup.clock.advance(10)
        await s8.arevoke(identity="u1")
        error = await refused_at_auth(setup, old)
        assert "revoked" in error["message"]
        # Issued at `before` (whole seconds, not earlier): works.
        async with peer(setup.server.ws_url, setup.token("u1")) as client:
            assert client.welcome["identity"] == "u1"


@both_servers
async def test_an_explicit_before_refuses_only_tokens_issued_earlier() -> None:
    s8 = app_with_gateway()
    with running(s8) as setup:
        early = setup.token("u1", at=NOW - 20)
        later = setup.token("u1", at=NOW - 5)
        s8.revoke(identity="u1", before=NOW - 10)
        await refused_at_auth(setup, early)
        async with peer(setup.server.ws_url, later) as client:
            assert client.welcome["identity"] == "u1"


@pytest.fixture
def real_time() -> Iterator[Setup]:
    """A gateway whose manual clock starts at the real time: `HttpPublisher` signs its publish
    tokens with the system clock."""
    with running(start=None) as setup:
        yield setup


@both_servers
async def test_revoking_a_jti_refuses_that_token_only(real_time: Setup) -> None:
    setup = real_time
    signer = sock8.Signer(SECRET, ttl=TTL)
    now = setup.clock.time()
    marked = signer.sign("u1", [ROOM], now=now, jti="session-42")
    other = signer.sign("u1", [ROOM], now=now, jti="session-43")
    revoker = HttpPublisher(setup.server.ws_url, SECRET)
    async with peer(setup.server.ws_url, marked) as client:
        try:
            await asyncio.to_thread(revoker.revoke, Revocation(jti="session-42"))
        finally:
            revoker.close()
        await closed_with(client, 4001, "revoked")
    await refused_at_auth(setup, marked)
    async with peer(setup.server.ws_url, other) as client:
        assert client.welcome["identity"] == "u1"


@both_servers
async def test_revoke_over_http_from_another_process(real_time: Setup) -> None:
    setup = real_time
    # The app's Sock8 in another process: its default publisher posts to /revoke.
    s8 = sock8.Sock8(SECRET, gateway_url=setup.server.ws_url)
    assert isinstance(s8.revoker, HttpPublisher)
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        setup.clock.advance(1)
        try:
            await s8.arevoke(identity="u1")
        finally:
            s8.revoker.close()
        await closed_with(client, 4001, "revoked")
    setup.clock.advance(1)
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        assert client.welcome["identity"] == "u1"


@both_servers
async def test_a_refresh_with_a_revoked_token_is_refused(setup: Setup) -> None:
    signer = sock8.Signer(SECRET, ttl=TTL)
    now = setup.clock.time()
    current = signer.sign("u1", [ROOM], now=now, jti="a")
    revoked = signer.sign("u1", [ROOM, LOGS], now=now + 1, jti="b")
    setup.gateway.revoke(Revocation(jti="b"))
    async with peer(setup.server.ws_url, current) as client:
        setup.clock.advance(1)
        await client.send(event="refresh", token=revoked)
        error = await closed_with(client, 4001, "unauthorized")
        assert "revoked" in error["message"]


@both_servers
async def test_history_refuses_a_revoked_token(setup: Setup) -> None:
    token = setup.token("u1")
    assert setup.history(LOGS, token).status_code == 200
    setup.clock.advance(1)
    setup.gateway.revoke(Revocation(identity="u1"))
    assert setup.history(LOGS, token).status_code == 401


@both_servers
async def test_revocations_expire_once_the_tokens_would_have() -> None:
    store = MemoryRevocations()
    with running(revocations=store, max_token_ttl=TTL) as setup:
        setup.clock.advance(1)
        setup.gateway.revoke(Revocation(identity="u1"))
        setup.gateway.revoke(Revocation(jti="gone"))
        # Until the last token they refuse could expire (issued before now, TTL at most), they
        # stay.
        setup.clock.advance(TTL - 1)
        setup.gateway.revoke(Revocation(jti="kept"))
        assert len(store) == 3
        # Then the next revocation drops them.
        setup.clock.advance(1)
        setup.gateway.revoke(Revocation(jti="new"))
        assert len(store) == 2


@both_servers
async def test_tokens_living_longer_than_max_token_ttl_are_refused() -> None:
    with running(max_token_ttl=TTL) as setup:
        error = await refused_at_auth(setup, setup.token(ttl=TTL + 1))
        assert "max_token_ttl" in error["message"]
        async with peer(setup.server.ws_url, setup.token(ttl=TTL)) as client:
            assert client.welcome["event"] == "welcome"


@both_servers
def test_post_revoke_needs_a_publish_token(setup: Setup) -> None:
    url = setup.server.url("/revoke")
    body = {"identity": "u1"}
    assert httpx.post(url, json=body).status_code == 401
    client_token = {"Authorization": f"Bearer {setup.token()}"}
    assert httpx.post(url, json=body, headers=client_token).status_code == 401
    assert len(setup.gateway.revocations) == 0  # type: ignore[arg-type]
    publish = {"Authorization": f"Bearer {setup.publish_token()}"}
    assert httpx.post(url, json=body, headers=publish).status_code == 202
    assert len(setup.gateway.revocations) == 1  # type: ignore[arg-type]


@both_servers
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"identity": "u1", "jti": "j"},
        {"jti": "j", "before": 1},
        {"identity": ""},
        {"identity": 5},
        {"identity": "u1", "before": "yesterday"},
        {"identity": "u1", "before": -1},
        {"identity": "u1", "extra": True},
        ["u1"],
    ],
)
def test_post_revoke_refuses_bad_bodies(setup: Setup, body: Any) -> None:
    publish = {"Authorization": f"Bearer {setup.publish_token()}"}
    answer = httpx.post(setup.server.url("/revoke"), json=body, headers=publish)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert len(setup.gateway.revocations) == 0  # type: ignore[arg-type]


@both_servers
def test_post_revoke_refuses_bodies_that_are_not_json(setup: Setup) -> None:
    publish = {"Authorization": f"Bearer {setup.publish_token()}"}
    answer = httpx.post(setup.server.url("/revoke"), content=b"{", headers=publish)
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, ValueError),
        ({"identity": "u", "jti": "j"}, ValueError),
        ({"jti": "j", "before": 5.0}, ValueError),
        ({"identity": "u", "before": float("nan")}, ValueError),
        ({"identity": "u" * 1025}, ValueError),
        ({"jti": ""}, ValueError),
        ({"identity": 3}, TypeError),
        ({"identity": "u", "before": "now"}, TypeError),
    ],
)
def test_bad_revoke_arguments_are_refused_before_anything_is_revoked(
    arguments: dict[str, Any], error: type[Exception]
) -> None:
    s8 = app_with_gateway()
    gateway = Gateway(s8, clock=ManualClock(NOW))
    with pytest.raises(error):
        s8.revoke(**arguments)
    assert len(gateway.revocations) == 0  # type: ignore[arg-type]


def test_a_sock8_whose_publisher_cannot_revoke_says_so() -> None:
    s8 = sock8.Sock8(SECRET, publisher=sock8.MemoryBroker())
    with pytest.raises(sock8.ConfigError, match="revocations"):
        s8.revoke(identity="u1")


@both_servers
async def test_sock8_revoke_from_a_shell(
    real_time: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = real_time
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        setup.clock.advance(1)
        argv = ["revoke", "--identity", "u1", "--url", setup.server.ws_url]
        assert await asyncio.to_thread(main, argv) == 0
        await closed_with(client, 4001, "revoked")
    assert "revoked the tokens of 'u1'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (["revoke", "--jti", "j", "--before", "5"], 2, "--before goes with --identity"),
        (["revoke", "--identity", ""], 2, "identity must be"),
        (["revoke", "--identity", "u1", "--url", "ftp://x"], 2, "gateway URL"),
        (["revoke", "--identity", "u1", "--url", "http://127.0.0.1:9"], 1, "could not reach"),
    ],
)
def test_sock8_revoke_refuses_bad_options_and_reports_failures(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    status: int,
    says: str,
) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    assert main(argv) == status
    assert says in capsys.readouterr().err


def test_sock8_revoke_needs_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SOCK8_SECRET", raising=False)
    assert main(["revoke", "--identity", "u1"]) == 2
    assert "SOCK8_SECRET" in capsys.readouterr().err
