"""The in-memory broker (python/sock8/broker.py) and the publishing protocols (publisher.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sock8 import Broker, ConfigError, HistoryPage, MemoryBroker, Message, Publisher

NOW = 1_700_000_000.125


def fixed_clock() -> float:
    return NOW


def test_memory_broker_implements_both_protocols() -> None:
    broker = MemoryBroker()
    assert isinstance(broker, Publisher)
    assert isinstance(broker, Broker)


@pytest.mark.parametrize("setting", ["history_size", "max_history_channels"])
@pytest.mark.parametrize("value", [0, -1])
def test_sizes_must_be_positive(setting: str, value: int) -> None:
    settings: dict[str, Any] = {setting: value}
    with pytest.raises(ConfigError, match=f"^{setting} must be at least 1, not {value}$"):
        MemoryBroker(**settings)


# Fan-out


def test_subscribers_of_the_channel_get_the_message_and_no_one_else() -> None:
    broker = MemoryBroker(clock=fixed_clock)
    a: list[Message] = []
    b: list[Message] = []
    other: list[Message] = []
    broker.subscribe("chat", a.append)
    broker.subscribe("chat", b.append)
    broker.subscribe("chat.other", other.append)
    broker.publish("chat", '{"text":"hi"}')
    expected = Message("chat", '{"text":"hi"}', 1_700_000_000_125)
    assert a == b == [expected]
    assert other == []


def test_closing_a_subscription_stops_deliveries() -> None:
    broker = MemoryBroker()
    seen: list[str] = []
    subscription = broker.subscribe("c", lambda m: seen.append(m.payload))
    assert broker.subscriber_count("c") == 1
    broker.publish("c", "1")
    subscription.close()
    subscription.close()
    broker.publish("c", "2")
    assert seen == ["1"]
    assert broker.subscriber_count("c") == 0
    assert "closed" in repr(subscription)


def test_a_subscription_is_a_context_manager() -> None:
    broker = MemoryBroker()
    seen: list[str] = []
    with broker.subscribe("c", lambda m: seen.append(m.payload)):
        broker.publish("c", '"in"')
    broker.publish("c", '"out"')
    assert seen == ['"in"']


def test_a_failing_subscriber_is_logged_and_the_others_still_get_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = MemoryBroker()
    seen: list[str] = []

    def fail(message: Message) -> None:
        raise RuntimeError("subscriber bug")

    broker.subscribe("c", fail)
    broker.subscribe("c", lambda m: seen.append(m.payload))
    with caplog.at_level(logging.ERROR, logger="sock8"):
        broker.publish("c", '"x"')
    assert seen == ['"x"']
    assert [r.getMessage() for r in caplog.records] == ["a subscriber of c raised"]


def test_a_subscriber_may_publish_again_without_deadlock() -> None:
    broker = MemoryBroker()
    seen: list[str] = []

    def relay(message: Message) -> None:
        broker.publish("d", message.payload)

    broker.subscribe("c", relay)
    broker.subscribe("d", lambda m: seen.append(m.payload))
    broker.publish("c", '"x"')
    assert seen == ['"x"']


def test_publishing_from_other_threads_delivers_on_the_subscribers_loop() -> None:
    broker = MemoryBroker()

    async def consume() -> tuple[list[str], set[int], int]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Message] = asyncio.Queue()
        threads: set[int] = set()

        def deliver(message: Message) -> None:
            threads.add(threading.get_ident())
            queue.put_nowait(message)

        broker.subscribe("c", deliver, loop=loop)
        broker.subscribe("c", deliver, loop=loop)

        def publish_from_workers() -> None:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda i: broker.publish("c", str(i)), range(50)))

        await asyncio.to_thread(publish_from_workers)
        payloads = [(await asyncio.wait_for(queue.get(), 5)).payload for _ in range(100)]
        return payloads, threads, threading.get_ident()

    payloads, threads, loop_thread = asyncio.run(consume())
    assert sorted(payloads) == sorted([str(i) for i in range(50)] * 2)
    assert threads == {loop_thread}


def test_messages_reach_a_loop_in_publication_order() -> None:
    broker = MemoryBroker()

    async def consume() -> list[str]:
        seen: list[str] = []
        broker.subscribe("c", lambda m: seen.append(m.payload), loop=asyncio.get_running_loop())
        await asyncio.to_thread(broker.publish, "c", '"from a thread"')
        broker.publish("c", '"from the loop"')
        await asyncio.to_thread(broker.publish, "c", '"from a thread again"')
        for _ in range(10):
            await asyncio.sleep(0)
        return seen

    assert asyncio.run(consume()) == ['"from a thread"', '"from the loop"', '"from a thread again"']


def test_a_subscription_closed_before_its_loop_runs_gets_nothing() -> None:
    broker = MemoryBroker()

    async def consume() -> list[str]:
        seen: list[str] = []
        subscription = broker.subscribe(
            "c", lambda m: seen.append(m.payload), loop=asyncio.get_running_loop()
        )
        broker.publish("c", '"queued"')  # handed to this loop, not yet run
        subscription.close()
        await asyncio.sleep(0)
        return seen

    assert asyncio.run(consume()) == []


def test_a_closed_loop_loses_the_message_and_others_still_get_it() -> None:
    broker = MemoryBroker()
    dead = asyncio.new_event_loop()
    broker.subscribe("c", lambda m: None, loop=dead)
    dead.close()
    seen: list[str] = []
    broker.subscribe("c", lambda m: seen.append(m.payload))
    broker.publish("c", '"x"')
    assert seen == ['"x"']


# History


def test_only_persisted_messages_are_kept_newest_first() -> None:
    broker = MemoryBroker(clock=fixed_clock)
    broker.publish("c", "1", persist=True)
    broker.publish("c", '"not kept"')
    broker.publish("c", "2", persist=True)
    page = broker.history("c")
    assert [m.payload for m in page.messages] == ["2", "1"]
    epoch = page.messages[0].epoch
    # The offsets count stored messages only: the one not kept has none.
    assert page.messages[0] == Message("c", "2", 1_700_000_000_125, 2, epoch)
    assert page.messages[1] == Message("c", "1", 1_700_000_000_125, 1, epoch)
    assert page.next_cursor is None
    assert broker.history("unknown") == HistoryPage((), None)


def test_cursors_page_through_everything_once() -> None:
    broker = MemoryBroker()
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
    assert seen == ["6", "5", "4", "3", "2", "1", "0"]
    assert pages == 3


def test_a_cursor_stays_put_while_new_messages_arrive() -> None:
    broker = MemoryBroker()
    for i in range(4):
        broker.publish("c", str(i), persist=True)
    first = broker.history("c", limit=2)
    broker.publish("c", '"new"', persist=True)
    second = broker.history("c", limit=2, cursor=first.next_cursor)
    assert [m.payload for m in second.messages] == ["1", "0"]


def test_history_is_bounded_per_channel() -> None:
    broker = MemoryBroker(history_size=3)
    for i in range(10):
        broker.publish("c", str(i), persist=True)
    assert [m.payload for m in broker.history("c", limit=100).messages] == ["9", "8", "7"]


def test_the_least_recently_published_channel_is_forgotten_first() -> None:
    broker = MemoryBroker(max_history_channels=2)
    broker.publish("a", "1", persist=True)
    broker.publish("b", "1", persist=True)
    broker.publish("a", "2", persist=True)
    broker.publish("c", "1", persist=True)
    assert broker.history("b").messages == ()
    assert [m.payload for m in broker.history("a").messages] == ["2", "1"]
    assert len(broker.history("c").messages) == 1


def test_reading_positions_forgets_no_history() -> None:
    broker = MemoryBroker(max_history_channels=2)
    broker.publish("a", "1", persist=True)
    broker.publish("b", "1", persist=True)
    broker.positions([f"empty.{i}" for i in range(100)])
    assert len(broker.history("a").messages) == len(broker.history("b").messages) == 1


def test_a_position_read_before_the_first_message_recovers_it() -> None:
    broker = MemoryBroker()
    (start,) = broker.positions(["c"]).values()
    assert start.offset == 0
    broker.publish("c", "1", persist=True)
    missed = broker.missed("c", start)
    assert missed.recovered
    assert [m.payload for m in missed.messages] == ["1"]


def test_a_forgotten_stream_starts_again_in_a_new_epoch() -> None:
    broker = MemoryBroker(max_history_channels=1)
    broker.publish("a", "1", persist=True)
    (old,) = broker.positions(["a"]).values()
    broker.publish("b", "1", persist=True)  # forgets a
    broker.publish("a", "2", persist=True)
    missed = broker.missed("a", old)
    assert not missed.recovered
    assert missed.position.epoch != old.epoch
    assert missed.position.offset == 1


@pytest.mark.parametrize("cursor", ["", "x", "-1", "+1", " 1", "01", "1_0", "\u0661", "9" * 21])
def test_malformed_cursors_are_value_errors(cursor: str) -> None:
    with pytest.raises(ValueError, match="invalid history cursor"):
        MemoryBroker().history("c", cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        MemoryBroker().history("c", limit=limit)


def test_async_twins() -> None:
    broker = MemoryBroker()

    async def main() -> HistoryPage:
        await broker.apublish("c", "1", persist=True)
        return await broker.ahistory("c", limit=1)

    assert [m.payload for m in asyncio.run(main()).messages] == ["1"]


def test_concurrent_publishers_lose_nothing() -> None:
    broker = MemoryBroker(history_size=10_000)
    delivered: list[str] = []
    broker.subscribe("c", lambda m: delivered.append(m.payload))

    def publish(worker: int) -> None:
        for i in range(200):
            broker.publish("c", f'"{worker}:{i}"', persist=True)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(publish, range(4)))
    stored = [m.payload for m in broker.history("c", limit=10_000).messages]
    assert (
        sorted(stored)
        == sorted(delivered)
        == sorted(f'"{w}:{i}"' for w in range(4) for i in range(200))
    )
