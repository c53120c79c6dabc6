"""`RedisBroker` on its own: the `Broker` and `HistoryStore` contracts of `MemoryBroker` (history
newest first, bounded, paged with cursors that stay put), publishing from sync code, threads
and running loops, subscriptions on the broker's loop, and settings checked up front."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sock8
from sock8 import Broker, ConfigError, HistoryPage, Message, PublishError
from sock8.gateway import ManualClock
from sock8.publisher import HistoryStore, Publisher, Status
from sock8.redis import RedisBroker, RedisPresence
from sock8.redis.keys import Keys

from tests.redis.server import RedisServer
from tests.support.live_server import free_port, until
from tests.support.secret import SECRET

NOW = 1_700_000_000.125


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[RedisBroker]:
    made = RedisBroker(redis_server.url, clock=lambda: NOW)
    yield made
    made.close()


def test_it_implements_the_protocols(broker: RedisBroker) -> None:
    for protocol in (Publisher, Broker, HistoryStore, Status):
        assert isinstance(broker, protocol)


def test_only_persisted_messages_are_kept_newest_first(broker: RedisBroker) -> None:
    broker.publish("c", "1", persist=True)
    broker.publish("c", '"not kept"')
    broker.publish("c", "2", persist=True)
    page = broker.history("c")
    assert [m.payload for m in page.messages] == ["2", "1"]
    assert page.messages[0] == Message("c", "2", 1_700_000_000_125)
    assert page.next_cursor is None
    assert broker.history("unknown") == HistoryPage((), None)


def test_cursors_page_through_everything_once_and_stay_put(broker: RedisBroker) -> None:
    for i in range(7):
        broker.publish("c", str(i), persist=True)
        broker.publish("noise", str(i), persist=True)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = broker.history("c", limit=3, cursor=cursor)
        pages += 1
        seen += [m.payload for m in page.messages]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        broker.publish("c", '"new"', persist=True)  # a cursor does not move with new messages
    assert seen == ["6", "5", "4", "3", "2", "1", "0"]
    assert pages == 3


def test_history_is_a_capped_stream_per_channel(
    redis_server: RedisServer, broker: RedisBroker
) -> None:
    small = RedisBroker(redis_server.url, history_size=3)
    try:
        for i in range(10):
            small.publish("c", str(i), persist=True)
        assert [m.payload for m in small.history("c", limit=100).messages] == ["9", "8", "7"]
        assert redis_server.client.xlen(Keys().history("c")) == 3
        # The key holds the wire id as a hash tag, for Redis Cluster.
        assert Keys().history("c") == "sock8:h:{c}"
        assert redis_server.client.ttl(Keys().history("c")) > 0
    finally:
        small.close()


@pytest.mark.parametrize("cursor", ["", "x", "-1", "1", "1-", "+", "-", "1-0 ", "\u0661-0"])
def test_malformed_cursors_are_value_errors(broker: RedisBroker, cursor: str) -> None:
    with pytest.raises(ValueError, match="invalid history cursor"):
        broker.history("c", cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_must_be_positive(broker: RedisBroker, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        broker.history("c", limit=limit)


def test_a_payload_that_is_not_one_json_value_is_refused(broker: RedisBroker) -> None:
    with pytest.raises(ValueError, match="'c'"):
        broker.publish("c", '"hi","channel":"other"', persist=True)
    assert broker.history("c") == HistoryPage((), None)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"history_size": 0}, "history_size"),
        ({"history_ttl": 0}, "history_ttl"),
        ({"protocol": 1}, "protocol"),
        ({"probe_interval": 0}, "probe_interval"),
    ],
)
def test_settings_are_checked(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RedisBroker("redis://127.0.0.1:6379/0", **options)


@pytest.mark.parametrize("url", ["", "http://127.0.0.1:6379", "127.0.0.1:6379"])
def test_a_url_that_is_not_redis_is_refused_without_echoing_it(url: str) -> None:
    for make in (RedisBroker, RedisPresence):
        with pytest.raises(ConfigError) as caught:
            make(url)
        assert url == "" or url not in str(caught.value)


def test_presence_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="ttl"):
        RedisPresence("redis://127.0.0.1:6379/0", ttl=0)
    with pytest.raises(ConfigError, match="refresh"):
        RedisPresence("redis://127.0.0.1:6379/0", ttl=10, refresh=10)


def test_an_app_emits_straight_to_redis_from_sync_code_threads_and_loops(
    redis_server: RedisServer, broker: RedisBroker
) -> None:
    s8 = sock8.Sock8(secret=SECRET, publisher=broker)
    logs = s8.channels({"admin.logs": sock8.channel(str, history=True)}).admin.logs
    logs.emit("sync")
    worker = threading.Thread(target=logs.emit, args=("thread",))
    worker.start()
    worker.join()

    async def inside_a_loop() -> None:
        logs.emit("inside a running loop")  # blocking, but never waits on this loop
        await logs.aemit("aemit")

    asyncio.run(inside_a_loop())
    asyncio.run(inside_a_loop())  # another loop: nothing is bound to the first one
    payloads = [m.payload for m in broker.history("admin.logs", limit=100).messages]
    assert payloads == [
        '"aemit"',
        '"inside a running loop"',
        '"aemit"',
        '"inside a running loop"',
        '"thread"',
        '"sync"',
    ]


def test_emit_raises_publish_error_when_redis_cannot_be_reached() -> None:
    nobody = RedisBroker(f"redis://127.0.0.1:{free_port()}/0")
    s8 = sock8.Sock8(secret=SECRET, publisher=nobody)
    logs = s8.channels({"admin.logs": str}).admin.logs
    with pytest.raises(PublishError, match="Redis is unavailable"):
        logs.emit("x")
    with pytest.raises(PublishError, match="Redis is unavailable"):
        asyncio.run(logs.aemit("x"))
    with pytest.raises(PublishError, match="Redis is unavailable"):
        nobody.history("admin.logs")
    nobody.close()


def test_subscribers_on_the_brokers_loop_and_on_another_loop(broker: RedisBroker) -> None:
    received: list[tuple[str, Message]] = []
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever)
    thread.start()

    async def main() -> None:
        await broker.start()
        try:
            here = broker.subscribe("c", lambda m: received.append(("here", m)))
            there = broker.subscribe("c", lambda m: received.append(("there", m)), loop=other)
            broker.subscribe("elsewhere", lambda m: received.append(("wrong", m)))
            await here.ready()
            assert broker.status == "ok"
            await broker.apublish("c", '{"n":1}')
            await until(lambda: len(received) == 2)
            there.close()
            here.close()
            assert broker.subscriber_count("c") == 0
        finally:
            await broker.stop()
        assert broker.status in {"unavailable"}  # after "ok" above: mypy narrowed the property

    try:
        asyncio.run(main())
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join()
        other.close()
    assert sorted(where for where, _ in received) == ["here", "there"]
    assert {message for _, message in received} == {Message("c", '{"n":1}', 1_700_000_000_125)}


def test_a_shared_presence_store_needs_the_broker_that_carries_it(
    redis_server: RedisServer,
) -> None:
    from sock8.gateway.app import Gateway

    presence = RedisPresence(redis_server.url)
    with pytest.raises(ConfigError, match="announces presence changes"):
        Gateway(secret=SECRET, presence=presence)  # the default MemoryBroker
    other = RedisBroker(redis_server.url, prefix="other")
    with pytest.raises(ConfigError, match="announces presence changes"):
        Gateway(secret=SECRET, broker=other, presence=presence)
    gateway = Gateway(secret=SECRET, broker=RedisBroker(redis_server.url), presence=presence)
    assert gateway.presence is presence


def test_every_channel_of_the_index_is_resubscribed_in_batches_after_a_kill(
    redis_server: RedisServer, broker: RedisBroker
) -> None:
    from sock8.redis.subscriber import BATCH

    names = [f"room.{n}" for n in range(2 * BATCH + 100)]
    held = {Keys().channel(name) for name in names}

    def holding() -> bool:
        return held <= set(redis_server.channels())

    async def main() -> None:
        await broker.start()
        try:
            subscriptions = [broker.subscribe(name, lambda m: None) for name in names]
            await until(holding)
            subscriber = broker.subscriber
            assert subscriber is not None
            redis_server.client.client_kill_filter(_type="pubsub")
            await until(lambda: subscriber.reconnects == 1 and subscriber.available)
            await until(holding)
            for subscription in subscriptions:
                subscription.close()
            await until(lambda: not held & set(redis_server.channels()))
        finally:
            await broker.stop()

    asyncio.run(main())


def test_resp3_works_like_resp2(redis_server: RedisServer) -> None:
    received: list[object] = []

    async def main() -> None:
        broker = RedisBroker(redis_server.url, protocol=3, clock=lambda: NOW)
        presence = RedisPresence(redis_server.url, protocol=3)
        await broker.start()
        try:
            subscription = broker.subscribe(
                "c", received.append, presence=lambda *change: received.append(change)
            )
            await subscription.ready()
            await broker.apublish("c", "1", persist=True)
            now_ms = int(NOW * 1000)
            await presence.start(ManualClock(NOW), lambda: ())  # the gateway's clock
            await presence.update("c", "alice", "m1", {"x": 1}, now_ms=now_ms)
            assert (await presence.state("c"))["alice"].data == {"x": 1}
            assert [m.payload for m in (await broker.ahistory("c")).messages] == ["1"]
            await until(lambda: len(received) == 2)
        finally:
            await presence.stop()
            await broker.stop()
            broker.close()

    asyncio.run(main())
    first = received[0]
    assert isinstance(first, Message)
    # Stored in the history: numbered in the channel's stream.
    assert received == [
        Message("c", "1", 1_700_000_000_125, 1, first.epoch),
        ("alice", {"lastSeen": 1_700_000_000_125, "data": {"x": 1}}),
    ]


def test_redis_py_settings_are_explicit() -> None:
    from sock8.redis.clients import async_client, pubsub_client, sync_client

    url = "redis://127.0.0.1:6379/0"
    subscription = pubsub_client(url, 3).connection_pool.connection_kwargs
    assert subscription["socket_timeout"] is None  # an idle subscription never times out
    assert subscription["socket_keepalive"] is True
    assert subscription["protocol"] == 3
    for commands in (sync_client(url, 2), async_client(url, 2)):
        settings = commands.connection_pool.connection_kwargs
        assert settings["protocol"] == 2
        assert settings["socket_timeout"] > 0  # commands fail instead of hanging
        assert settings["socket_connect_timeout"] > 0
