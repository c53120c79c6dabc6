"""`GET /metrics` over real loopback sockets: each metric counts what happened on the gateway,
scraped with httpx and read with prometheus-client's own parser; `/metrics` off, or behind a
bearer token."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import sock8
from prometheus_client.parser import text_string_to_metric_families
from sock8.gateway import Gateway, ManualClock
from sock8.gateway.stats import GatewayStats, refusal_reason
from sock8.revocation import Revocation

from tests.gateway.harness import LOGS, NOW, ROOM, TTL, Setup, both_servers, chat_tree, running
from tests.support.live_server import Peer, peer, until
from tests.support.secret import OTHER_SECRET, SECRET

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(setup: Setup, token: str | None = None) -> Samples:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    answer = httpx.get(setup.server.url("/metrics"), headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def refused(client: Peer, code: int) -> None:
    closed, _ = await client.closed()
    assert closed == code


@pytest.fixture
def chat() -> Iterator[Setup]:
    """A gateway that knows the chat tree (presence on the rooms)."""
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker(), token_ttl=TTL)
    with running(s8, channels=chat_tree(s8), allowed_origins=["https://app.example"]) as setup:
        yield setup


@both_servers
async def test_connects_are_counted_by_outcome(chat: Setup) -> None:
    setup = chat
    url = setup.server.ws_url
    async with peer(url, setup.token("u1")):
        pass
    async with peer(url) as client:
        await client.send(event="auth", token=setup.token(secret=OTHER_SECRET))
        await refused(client, 4001)
    async with peer(url) as client:
        await client.send(event="auth", token=setup.token(at=NOW - 2 * TTL))
        await refused(client, 4001)
    async with peer(url) as client:
        await client.send(event="subscribe", channel=LOGS)
        await refused(client, 4400)
    async with peer(url) as client:
        setup.clock.advance(setup.gateway.limits.auth_timeout)
        await refused(client, 4001)
    with pytest.raises(Exception, match="403"):
        async with peer(url, origin="https://evil.example"):
            pass
    await until(lambda: setup.gateway.stats.connections == 0)
    samples = scrape(setup)
    connects = "sock8_connects_total"
    assert value(samples, connects, outcome="ok", reason="") == 1
    assert value(samples, connects, outcome="unauthorized", reason="bad_signature") == 1
    assert value(samples, connects, outcome="unauthorized", reason="expired") == 1
    assert value(samples, connects, outcome="bad_frame", reason="") == 1
    assert value(samples, connects, outcome="auth_timeout", reason="") == 1
    assert value(samples, connects, outcome="origin", reason="") == 1
    assert value(samples, "sock8_connections") == 0
    # Every token that reached the verifier was timed: the ok one and the two refused ones.
    assert value(samples, "sock8_token_verify_seconds_count") == 3


@both_servers
async def test_deliveries_connections_presence_and_refreshes(chat: Setup) -> None:
    setup = chat
    url = setup.server.ws_url
    async with peer(url, setup.token("u1")) as u1, peer(url, setup.token("u2")) as u2:
        for text in ("a", "b", "c"):
            setup.publish(ROOM, text)
        for client in (u1, u2):
            for text in ("a", "b", "c"):
                assert await client.recv() == {"channel": ROOM, "payload": text}
        await u1.send(event="setPresence", channel=ROOM, data={"typing": True})
        assert (await u1.recv())["event"] == "presenceUpdate"
        assert (await u2.recv())["event"] == "presenceUpdate"
        setup.clock.advance(1)
        await u2.send(event="refresh", token=setup.token("u2"))
        assert (await u2.recv())["event"] == "refreshed"
        samples = scrape(setup)
        assert value(samples, "sock8_connections") == 2
        assert value(samples, "sock8_deliveries_total") == 6
        assert value(samples, "sock8_presence_members") == 1
        assert value(samples, "sock8_refreshes_total", outcome="ok") == 1
        assert value(samples, "sock8_broker_state", state="memory") == 1
        assert value(samples, "sock8_broker_state", state="unavailable") == 0
    await until(lambda: setup.gateway.stats.connections == 0)
    samples = scrape(setup)
    assert value(samples, "sock8_connections") == 0
    assert value(samples, "sock8_presence_members") == 0


@both_servers
async def test_publishes_history_reads_and_revocations(setup: Setup) -> None:
    assert setup.post({"channel": LOGS, "payload": 1}, setup.publish_token()).status_code == 202
    assert setup.post({"channel": LOGS, "payload": 1}, "nonsense").status_code == 401
    assert setup.post(b"{", setup.publish_token()).status_code == 400
    assert setup.history(LOGS, setup.token()).status_code == 200
    assert setup.history(LOGS, None).status_code == 401
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        setup.clock.advance(1)
        setup.gateway.revoke(Revocation(identity="u1"))
        await refused(client, 4001)
    samples = scrape(setup)
    publishes = "sock8_publishes_total"
    assert value(samples, publishes, outcome="ok") == 1
    assert value(samples, publishes, outcome="unauthorized") == 1
    assert value(samples, publishes, outcome="bad_request") == 1
    assert value(samples, "sock8_history_reads_total", outcome="ok") == 1
    assert value(samples, "sock8_history_reads_total", outcome="refused") == 1
    assert value(samples, "sock8_revocations_total") == 1
    assert value(samples, "sock8_revoked_connections_total") == 1


@both_servers
def test_each_gateway_has_its_own_registry() -> None:
    with running() as first, running() as second:
        assert first.post({"channel": LOGS, "payload": 1}, first.publish_token()).status_code == 202
        assert value(scrape(first), "sock8_publishes_total", outcome="ok") == 1
        assert value(scrape(second), "sock8_publishes_total", outcome="ok") == 0
        # The process collector is there too.
        assert value(scrape(first), "process_cpu_seconds_total") > 0


@both_servers
def test_metrics_can_be_turned_off() -> None:
    with running(metrics=False) as setup:
        assert setup.gateway.metrics is None
        answer = httpx.get(setup.server.url("/metrics"), timeout=10)
        assert answer.status_code == 404
        # The plain counters still count.
        assert setup.post({"channel": LOGS, "payload": 1}, setup.publish_token()).status_code == 202
        assert setup.gateway.stats.published == 1


@both_servers
def test_metrics_behind_a_bearer_token() -> None:
    with running(metrics_token="scrape-me") as setup:
        url = setup.server.url("/metrics")
        assert httpx.get(url, timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer scrape-you"}
        assert httpx.get(url, headers=wrong, timeout=10).status_code == 401
        assert value(scrape(setup, "scrape-me"), "sock8_connections") == 0


def test_the_plain_counters_feed_their_metrics() -> None:
    gateway = Gateway(secret=SECRET, clock=ManualClock(NOW))
    stats, metrics = gateway.stats, gateway.metrics
    assert isinstance(stats, GatewayStats)
    assert metrics is not None
    stats.slow_consumers += 1
    stats.rate_limited += 2
    assert (stats.slow_consumers, stats.rate_limited) == (1, 2)
    assert metrics.slow_consumers._value.get() == 1
    assert metrics.rate_limited._value.get() == 2


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (sock8.TokenExpired("x"), "expired"),
        (sock8.BadSignature("x"), "bad_signature"),
        (sock8.MalformedToken("x"), "malformed"),
        (sock8.UnknownKey("x"), "unknown_key"),
        (sock8.TokenRevoked("x"), "revoked"),
        (sock8.TokenError("x"), "other"),
    ],
)
def test_refusal_reasons_are_short_stable_names(error: Exception, reason: str) -> None:
    assert refusal_reason(error) == reason


@both_servers
def test_metrics_hold_no_token_or_secret(setup: Setup) -> None:
    token = setup.token()
    setup.history(LOGS, token)
    text = httpx.get(setup.server.url("/metrics"), timeout=10).text
    assert token not in text
    assert SECRET not in text
    assert json.dumps(setup.grants[0])[1:-1] not in text  # no channel names either
