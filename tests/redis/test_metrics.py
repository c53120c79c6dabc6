"""`/metrics` of a gateway node on a real Redis: the broker's state follows Redis going away and
coming back, and the reconnection is counted as a resubscribe."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sock8.gateway import ManualClock

from tests.gateway.harness import LOGS, NOW, Setup
from tests.redis.nodes import held, node, redis_broker
from tests.redis.server import RedisServer
from tests.support.live_server import peer, until

pytestmark = pytest.mark.anyio


def scrape(setup: Setup) -> dict[str, float]:
    text = httpx.get(setup.server.url("/metrics"), timeout=10).text
    return {
        sample.name + "".join(f"{{{value}}}" for value in sample.labels.values()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_broker_state_and_resubscribes_follow_redis(redis_server: RedisServer) -> None:
    with node(redis_server, ManualClock(NOW)) as a:
        async with peer(a.server.ws_url, a.token("u1", [LOGS])):
            await held(redis_server, LOGS, nodes=1)
            samples = await asyncio.to_thread(scrape, a)
            assert samples["sock8_broker_state{ok}"] == 1
            assert samples["sock8_broker_state{unavailable}"] == 0
            assert samples["sock8_redis_resubscribes_total"] == 0
            redis_server.stop()
            await until(lambda: redis_broker(a).status == "unavailable")
            samples = await asyncio.to_thread(scrape, a)
            assert samples["sock8_broker_state{unavailable}"] == 1
            assert samples["sock8_broker_state{ok}"] == 0
            redis_server.restart()
            await until(lambda: redis_broker(a).status == "ok")
            samples = await asyncio.to_thread(scrape, a)
            assert samples["sock8_broker_state{ok}"] == 1
            assert samples["sock8_redis_resubscribes_total"] == 1
