"""The gateway's parts without sockets: frames, clocks, the hub, presence, channel rules and
configuration."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import sock8
from pydantic import BaseModel
from sock8.gateway import (
    Gateway,
    HistoryStore,
    ManualClock,
    MemoryPresence,
    PresenceStore,
    SystemClock,
    create_app,
)
from sock8.gateway.app import ChannelRules
from sock8.gateway.frames import (
    Auth,
    BadFrame,
    GetPresence,
    Refresh,
    SetPresence,
    Subscribe,
    Unsubscribe,
    channel_message,
    dumps,
    error,
    parse_client_frame,
)
from sock8.gateway.hub import Hub
from sock8.publisher import Deliver, Message

SECRET = "units-test-secret-0123456789abcdef-012"

# Frames


@pytest.mark.parametrize(
    ("text", "frame"),
    [
        ('{"event": "auth", "token": "t"}', Auth("t")),
        ('{"event": "refresh", "token": "t", "extra": 1}', Refresh("t")),
        ('{"event": "subscribe", "channel": "a.b"}', Subscribe("a.b")),
        ('{"event": "unsubscribe", "channel": "a.b"}', Unsubscribe("a.b")),
        ('{"event": "getPresence", "channel": "a"}', GetPresence("a")),
        (
            '{"event": "setPresence", "channel": "a", "data": {"x": [1]}}',
            SetPresence("a", {"x": [1]}),
        ),
    ],
)
def test_client_frames_parse(text: str, frame: object) -> None:
    assert parse_client_frame(text, 1000) == frame


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "frames are JSON text, not binary"),
        ("x" * 101, "frame over 100 bytes"),
        ('{"event": "auth", "token": "' + "é" * 40 + '"}', "frame over 100 bytes"),
        ("{", "frame is not JSON"),
        ('{"event": "auth", "token": Infinity}', "Infinity is not JSON"),
        ("[" * 50 + "]" * 50, "frame is not a JSON object"),
        ("null", "frame is not a JSON object"),
        ('{"event": null}', "frame has no string 'event'"),
        ('{"event": "AUTH", "token": "t"}', "unknown event 'AUTH'"),
        ('{"event": "auth"}', "auth needs a string 'token'"),
        ('{"event": "getPresence", "channel": ["a"]}', "getPresence needs a string 'channel'"),
        ('{"event": "setPresence", "channel": "a", "data": "x"}', "setPresence needs an object"),
    ],
)
def test_bad_client_frames(text: str | None, reason: str) -> None:
    with pytest.raises(BadFrame, match=reason.replace("(", r"\(")):
        parse_client_frame(text, 100)


def test_the_size_limit_is_exact_in_utf8_bytes() -> None:
    frame = '{"event": "auth", "token": "' + "é" * 10 + '"}'
    size = len(frame.encode())
    assert parse_client_frame(frame, size) == Auth("é" * 10)
    with pytest.raises(BadFrame):
        parse_client_frame(frame, size - 1)


def test_server_frames() -> None:
    assert channel_message('"a.b"', '{"x":1}') == '{"channel":"a.b","payload":{"x":1}}'
    assert json.loads(error("forbidden", "no", "c")) == {
        "event": "error",
        "code": "forbidden",
        "message": "no",
        "channel": "c",
    }
    assert "channel" not in json.loads(error("bad_frame", "no"))
    assert dumps({"k": "\ud800é"}) == '{"k":"\\ud800\\u00e9"}'
    with pytest.raises(ValueError, match="JSON compliant"):
        dumps(float("nan"))


# Clocks


def test_manual_clock_runs_due_timers_in_order() -> None:
    clock = ManualClock(100)
    fired: list[str] = []

    async def main() -> None:
        clock.call_at(110, lambda: fired.append("110"))
        clock.call_at(105, lambda: fired.append("105"))
        cancelled = clock.call_at(106, lambda: fired.append("cancelled"))
        clock.call_at(99, lambda: fired.append("past"))  # already due: runs soon
        cancelled.cancel()
        assert clock.pending == 2
        await asyncio.sleep(0)
        assert fired == ["past"]
        clock.advance(6)
        await asyncio.sleep(0)
        assert fired == ["past", "105"]
        clock.set(200)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert fired == ["past", "105", "110"]
    assert clock.time() == 200
    assert clock.pending == 0
    with pytest.raises(ValueError, match="never goes back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="never goes back"):
        clock.set(199)


def test_manual_clock_fires_across_threads() -> None:
    clock = ManualClock(0)

    async def main() -> bool:
        fired = asyncio.Event()
        clock.call_at(5, fired.set)
        await asyncio.to_thread(clock.advance, 5)
        await asyncio.wait_for(fired.wait(), 5)
        return fired.is_set()

    assert asyncio.run(main())


def test_system_clock() -> None:
    clock = SystemClock()

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        fired = loop.create_future()
        clock.call_at(clock.time() - 10, lambda: fired.set_result(clock.time()))
        return [await asyncio.wait_for(fired, 5)]

    assert asyncio.run(main())[0] > 1_700_000_000


# The hub


class Sink:
    def __init__(self) -> None:
        self.frames: list[str] = []

    def offer(self, frame: str) -> None:
        self.frames.append(frame)


class CountingBroker(sock8.MemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.subscribes: list[str] = []

    def subscribe(
        self, channel: str, deliver: Deliver, *, loop: asyncio.AbstractEventLoop | None = None
    ) -> Any:
        self.subscribes.append(channel)
        return super().subscribe(channel, deliver, loop=loop)


def test_the_hub_subscribes_once_per_channel_and_serializes_once() -> None:
    broker = CountingBroker()

    async def main() -> list[Sink]:
        hub = Hub(broker, asyncio.get_running_loop())
        sinks = [Sink() for _ in range(50)]
        for sink in sinks:
            hub.add("a", sink)
            hub.add("a", sink)  # idempotent
        hub.add("b", sinks[0])
        assert broker.subscribes == ["a", "b"]
        assert hub.subscribers("a") == 50
        assert len(hub) == 2
        broker.publish("a", '{"n":1}')
        broker.publish("b", "2")
        await asyncio.sleep(0)
        hub.remove("b", sinks[0])
        hub.remove("b", sinks[0])  # idempotent
        assert broker.subscriber_count("b") == 0
        for sink in sinks:
            hub.remove("a", sink)
        assert broker.subscriber_count("a") == 0
        assert len(hub) == 0
        hub.broadcast("a", "nobody")  # no subscribers: nothing happens
        return sinks

    sinks = asyncio.run(main())
    first = sinks[0].frames[0]
    assert first == '{"channel":"a","payload":{"n":1}}'
    assert sinks[0].frames[1] == '{"channel":"b","payload":2}'
    # One frame object for every subscriber: serialized once per message.
    assert all(sink.frames[0] is first for sink in sinks)
    assert all(len(sink.frames) == 1 for sink in sinks[1:])


# Presence store


def test_memory_presence() -> None:
    store = MemoryPresence()
    assert isinstance(store, PresenceStore)

    async def main() -> None:
        entry = await store.update("c", "u1", "m1", {"a": 1}, now_ms=5)
        assert entry.as_json() == {"isConnected": True, "lastSeen": 5, "data": {"a": 1}}
        entry = await store.update("c", "u1", "m2", {"b": 2}, now_ms=6)
        assert entry.data == {"a": 1, "b": 2}

        def refuse(data: dict[str, Any]) -> dict[str, Any]:
            raise ValueError("no")

        with pytest.raises(ValueError, match="no"):
            await store.update("c", "u1", "m3", {"a": 9}, now_ms=7, validate=refuse)
        state = await store.state("c")
        assert state["u1"].data == {"a": 1, "b": 2}
        assert state["u1"].last_seen == 6
        assert await store.leave("c", "u1", "m3") is False  # never a member
        assert await store.leave("c", "u1", "m1") is False  # m2 remains
        assert await store.leave("c", "u1", "m2") is True
        assert await store.leave("c", "u1", "m2") is False
        assert await store.state("c") == {}
        assert len(store) == 0

    asyncio.run(main())


# Channel rules


class Typing(BaseModel):
    typing: bool


def test_channel_rules_from_trees() -> None:
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    chat = s8.channels({"chat.{roomId}": sock8.channel(str, presence=Typing, history=True)})
    other = s8.channels({"news": str})
    rules = ChannelRules([chat, other], max_presence_bytes=100)
    room = chat.chat.for_(roomId="r").id
    assert rules.known
    assert rules.presence_allowed(room)
    assert not rules.presence_allowed("news")
    assert not rules.presence_allowed("unknown.channel")
    assert rules.history(room) is True
    assert rules.history("news") is False
    assert rules.history("unknown") is None
    assert rules.history("not a wire id") is None
    assert rules.presence_validator(room)({"typing": 1}) == {"typing": True}
    with pytest.raises(ValueError, match="typing"):
        rules.presence_validator(room)({"typing": "maybe"})

    blank = ChannelRules([], max_presence_bytes=20)
    assert not blank.known
    assert blank.presence_allowed("anything")
    assert blank.history("anything") is None
    assert blank.presence_validator("a")({"k": "v"}) == {"k": "v"}
    with pytest.raises(ValueError, match="over 20 bytes"):
        blank.presence_validator("a")({"k": "v" * 20})


def test_a_presence_schema_that_is_not_an_object_refuses_everything() -> None:
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    tree = s8.channels({"c": sock8.channel(str, presence=int)})
    with pytest.raises(ValueError, match=r"int_type|object"):
        ChannelRules([tree], 100).presence_validator("c")({"a": 1})


# Configuration


def test_create_app_with_a_secret_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(secret=SECRET)
    gateway = app.state.gateway
    assert isinstance(gateway, Gateway)
    assert isinstance(gateway.broker, sock8.MemoryBroker)
    assert isinstance(gateway.history, HistoryStore)
    assert gateway.history is gateway.broker
    assert gateway.verifier.audience == "sock8"
    assert gateway.publish_verifier.audience == "sock8:publish"
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    assert create_app().state.gateway.verifier.audience == "sock8"
    monkeypatch.delenv("SOCK8_SECRET")
    with pytest.raises(sock8.ConfigError, match="SOCK8_SECRET"):
        create_app()


def test_a_key_ring_verifies_every_key() -> None:
    old, new = SECRET, SECRET[::-1]
    ring = sock8.KeyRing({"old": old, "new": new}, current="new")
    gateway = Gateway(secret=ring, audience="app")
    for kid, secret in [("old", old), ("new", new)]:
        token = sock8.Signer(secret, kid=kid, audience="app").sign("u", [])
        assert gateway.verifier.verify(token).identity == "u"
        publish = sock8.Signer(secret, kid=kid, audience="app:publish").sign("p", [])
        assert gateway.publish_verifier.verify(publish).identity == "p"


def test_the_app_and_publish_verifiers_follow_the_app() -> None:
    s8 = sock8.Sock8(secret=SECRET, audience="my-app", issuer="me", kid="k1")
    gateway = Gateway(s8, leeway=3)
    token = s8.issue_token("u1", ["a"]).token
    assert gateway.verifier.verify(token).identity == "u1"
    assert gateway.verifier.leeway == 3
    assert gateway.publish_verifier.audience == "my-app:publish"
    assert gateway.publish_verifier.issuer == "me"
    with pytest.raises(sock8.TokenError):
        gateway.publish_verifier.verify(token)


@pytest.mark.parametrize(
    "options",
    [
        {"secret": SECRET},
        {"audience": "other"},
        {"issuer": "x"},
    ],
)
def test_s8_excludes_its_own_settings(options: dict[str, Any]) -> None:
    with pytest.raises(sock8.ConfigError, match="either s8"):
        Gateway(sock8.Sock8(secret=SECRET), **options)


@pytest.mark.parametrize(
    "option",
    [
        "auth_timeout",
        "max_frame_bytes",
        "max_publish_bytes",
        "max_presence_bytes",
        "send_queue_size",
        "history_size",
        "close_timeout",
    ],
)
def test_limits_must_be_positive(option: str) -> None:
    options: dict[str, Any] = {option: 0}
    with pytest.raises(sock8.ConfigError, match=option):
        Gateway(secret=SECRET, **options)


def test_a_second_broker_for_the_same_app_is_refused() -> None:
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    with pytest.raises(sock8.ConfigError, match="another broker"):
        Gateway(s8, broker=sock8.MemoryBroker())


def test_a_custom_publisher_is_left_alone() -> None:
    class Recorded:
        def publish(self, channel: str, payload: str, *, persist: bool = False) -> None:
            pass

        async def apublish(self, channel: str, payload: str, *, persist: bool = False) -> None:
            pass

        def history(self, channel: str, *, limit: int = 50, cursor: str | None = None) -> Any:
            return sock8.HistoryPage((), None)

        async def ahistory(
            self, channel: str, *, limit: int = 50, cursor: str | None = None
        ) -> Any:
            return sock8.HistoryPage((), None)

    recorded = Recorded()
    s8 = sock8.Sock8(secret=SECRET, publisher=recorded)
    broker = sock8.MemoryBroker()
    gateway = Gateway(s8, broker=broker)
    assert s8.publisher is recorded
    assert gateway.broker is broker


def test_the_default_broker_stamps_with_the_gateway_clock() -> None:
    gateway = Gateway(secret=SECRET, clock=ManualClock(1234.5), history_size=2)
    broker = gateway.broker
    for payload in ["1", "2", "3"]:
        broker.publish("c", payload, persist=True)
    page = broker.history("c")
    assert page.messages == (Message("c", "3", 1_234_500), Message("c", "2", 1_234_500))
