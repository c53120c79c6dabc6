"""The gateway's parts without sockets: frames, clocks, the hub, presence, send queues, rate
limits, channel rules and configuration."""

from __future__ import annotations

import asyncio
import inspect
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
from sock8.gateway.outbox import Outbox, PresenceChange
from sock8.gateway.presence import PresenceEntry, unsafe_key
from sock8.gateway.ratelimit import TokenBucket
from sock8.gateway.rules import ChannelRules
from sock8.publisher import Deliver, Message

from tests.support.secret import SECRET

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
    direct_fd = -1

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write_rest(self, data: memoryview) -> None:
        raise AssertionError("no socket was offered")

    def offer(self, frame: bytes) -> None:
        self.frames.append(frame)

    def offer_presence(self, change: PresenceChange) -> None:
        self.frames.append(change.frame)


class CountingBroker(sock8.MemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.subscribes: list[str] = []

    def subscribe(self, channel: str, deliver: Deliver, **options: Any) -> Any:
        self.subscribes.append(channel)
        return super().subscribe(channel, deliver, **options)


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
        return sinks

    sinks = asyncio.run(main())
    first = sinks[0].frames[0]
    assert first == b'{"channel":"a","payload":{"n":1}}'
    assert sinks[0].frames[1] == b'{"channel":"b","payload":2}'
    # One frame object for every subscriber: serialized once per message.
    assert all(sink.frames[0] is first for sink in sinks)
    assert all(len(sink.frames) == 1 for sink in sinks[1:])


class RawBroker:
    """Someone else's broker: hands payload text to subscribers as it was published, unchecked."""

    def __init__(self) -> None:
        self.deliver: Deliver | None = None

    def subscribe(
        self, channel: str, deliver: Deliver, *, loop: asyncio.AbstractEventLoop | None = None
    ) -> Any:
        self.deliver = deliver
        return self

    def close(self) -> None:
        self.deliver = None


def test_the_hub_drops_payload_text_that_is_not_one_json_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = RawBroker()
    sink = Sink()

    async def main() -> None:
        hub = Hub(broker, asyncio.get_running_loop())  # type: ignore[arg-type]
        hub.add("a", sink)
        assert broker.deliver is not None
        spliced = '"hi","channel":"notification.alice##userId"'
        broker.deliver(Message("a", spliced, 1))
        broker.deliver(Message("a", '{"n":1', 2))
        broker.deliver(Message("a", '{"n":1}', 3))

    asyncio.run(main())
    # Only the valid message became a frame: the spliced one never reached the subscriber.
    assert sink.frames == [b'{"channel":"a","payload":{"n":1}}']
    assert caplog.text.count("dropped a message for a") == 2


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


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"__proto__": {"isAdmin": True}}, "__proto__"),
        ({"typing": True, "constructor": {"prototype": {"x": 1}}}, "constructor"),
        ({"a": [1, {"b": [{"prototype": None}]}]}, "prototype"),
        ({"a": {"b": {"c": {"__proto__": 1}}}}, "__proto__"),
    ],
)
def test_prototype_keys_are_refused_at_any_depth(data: dict[str, Any], key: str) -> None:
    assert unsafe_key(data) == key
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    tree = s8.channels({"c": sock8.channel(str, presence=Typing)})
    # Refused before the schema, which would drop the unknown key and hide the attempt.
    for rules in (ChannelRules([tree], 10_000), ChannelRules([], 10_000)):
        with pytest.raises(ValueError, match=f"may not use the key '{key}'"):
            rules.presence_validator("c")(data)


def test_lookalike_keys_and_values_are_fine() -> None:
    data = {"proto": "__proto__", "Constructor": ["constructor"], "x": {"__proto__x": 1}}
    assert unsafe_key(data) is None
    assert unsafe_key({"a": [[[[{}]]]]}) is None
    deep: dict[str, Any] = {}
    for _ in range(5000):  # deeper than Python's recursion limit: the walk is iterative
        deep = {"d": deep}
    assert unsafe_key(deep) is None


def test_a_presence_schema_that_is_not_an_object_refuses_everything() -> None:
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    tree = s8.channels({"c": sock8.channel(str, presence=int)})
    with pytest.raises(ValueError, match=r"int_type|object"):
        ChannelRules([tree], 100).presence_validator("c")({"a": 1})


# Send queues


def change(channel: str, identity: str, data: dict[str, Any] | None) -> PresenceChange:
    entry = None if data is None else PresenceEntry(True, 1000, data)
    return PresenceChange(channel, identity, entry)


def drain(outbox: Outbox) -> list[Any]:
    return [json.loads(frame) for frame in iter(outbox.take, None)]


def presence_frame(channel: str, updates: dict[str, Any], removals: list[str]) -> dict[str, Any]:
    entries = {
        who: {"isConnected": True, "lastSeen": 1000, "data": data} for who, data in updates.items()
    }
    return {"event": "presenceUpdate", "channel": channel, "updates": entries, "removals": removals}


def test_waiting_presence_changes_merge_into_the_latest_per_identity() -> None:
    outbox = Outbox(1000)
    for index in range(1000):
        assert outbox.put_presence(change("room", "flooder", {"n": index}))
    assert outbox.put_presence(change("room", "u2", {"n": 0}))
    assert outbox.put_presence(change("room", "u3", {"n": 0}))
    assert outbox.put_presence(change("room", "u2", None))  # u2 left: its update is dropped
    assert outbox.put_presence(change("other", "flooder", {"n": 0}))
    assert len(outbox) == 2  # one place per channel, however many changes
    # What waits counts the latest change of each identity, not the flood.
    sizes = [change("room", "flooder", {"n": 999}), change("room", "u3", {"n": 0})]
    sizes += [change("room", "u2", None), change("other", "flooder", {"n": 0})]
    assert outbox.bytes == sum(len(one.frame) for one in sizes)
    assert drain(outbox) == [
        presence_frame("room", {"flooder": {"n": 999}, "u3": {"n": 0}}, ["u2"]),
        presence_frame("other", {"flooder": {"n": 0}}, []),
    ]
    assert outbox.bytes == 0  # a batch gives back what it grew to
    # Taken by the writer: the next change waits in a place of its own.
    assert outbox.put_presence(change("room", "u2", {"n": 1}))
    assert drain(outbox) == [presence_frame("room", {"u2": {"n": 1}}, [])]


def test_presence_never_overtakes_another_frame() -> None:
    outbox = Outbox(10_000)
    outbox.put_presence(change("room", "u1", {"n": 1}))
    outbox.put(b'{"channel":"room","payload":"after n=1"}')
    # A change made after the message is not merged into the batch before it.
    outbox.put_presence(change("room", "u1", {"n": 2}))
    outbox.put_presence(change("room", "u1", {"n": 3}))
    outbox.put(b'{"event":"presenceState"}')
    outbox.put_presence(change("room", "u1", {"n": 4}))
    assert drain(outbox) == [
        presence_frame("room", {"u1": {"n": 1}}, []),
        {"channel": "room", "payload": "after n=1"},
        presence_frame("room", {"u1": {"n": 3}}, []),
        {"event": "presenceState"},
        presence_frame("room", {"u1": {"n": 4}}, []),
    ]


def test_an_unmerged_change_is_written_once_for_every_queue() -> None:
    shared = change("room", "u1", {"typing": True})
    outboxes = [Outbox(1000) for _ in range(3)]
    for outbox in outboxes:
        outbox.put_presence(shared)

    frames = [outbox.take() for outbox in outboxes]
    assert all(frame is frames[0] for frame in frames)


def test_a_notice_waits_at_most_once() -> None:
    notice = error("rate_limited", "slow down")
    outbox = Outbox(len(notice) + 6)
    for _ in range(1000):
        assert outbox.put_notice("rate_limited", notice.encode())
    assert len(outbox) == 1
    assert outbox.put(b'"x"')
    assert outbox.put(b'"y"')
    assert not outbox.put(b'"z"')  # full: the caller closes the connection
    assert not outbox.put_presence(change("room", "u1", {}))
    assert outbox.put_notice("rate_limited", notice.encode())  # one is waiting: this takes no place
    assert drain(outbox) == [json.loads(notice), "x", "y"]
    assert outbox.bytes == 0
    # Once the waiting one is taken, the next refusal is told again.
    assert outbox.put_notice("rate_limited", notice.encode())
    assert drain(outbox) == [json.loads(notice)]


def test_the_bound_is_in_utf8_bytes_and_an_empty_queue_takes_any_frame() -> None:
    outbox = Outbox(10)
    big = '"' + "é" * 20 + '"'  # 42 bytes, more than the limit
    assert outbox.put(big.encode())  # an empty queue takes it: a big message still reaches a reader
    assert outbox.bytes == 42
    assert not outbox.put(b'"x"')  # past the limit
    assert drain(outbox) == ["é" * 20]
    assert outbox.bytes == 0
    assert outbox.put('"é"'.encode())
    assert outbox.put(b'"abc"')
    assert outbox.bytes == 9
    assert not outbox.put(b'"ab"')  # 13 > 10
    outbox.clear()
    assert (len(outbox), outbox.bytes) == (0, 0)


def test_the_transport_buffer_counts_once_something_waits() -> None:
    held = [100]
    outbox = Outbox(50, buffered=lambda: held[0])
    assert outbox.put(b'"a"')  # empty queue: taken whatever the transport holds
    assert not outbox.put(b'"b"')  # 3 + 3 + 100 > 50
    held[0] = 0
    assert outbox.put(b'"b"')
    assert drain(outbox) == ["a", "b"]


# Rate limits


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=2, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(100.25) is False  # half a token
    assert bucket.take(100.5) is True
    assert bucket.take(100.5) is False
    # Refills up to the burst, never beyond.
    assert [bucket.take(1000.0) for _ in range(4)] == [True, True, True, False]
    # A clock that goes back refills nothing, and does not count the same time twice.
    assert bucket.take(900.0) is False
    assert bucket.take(1000.25) is False
    assert bucket.take(1000.5) is True


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


def test_create_app_takes_exactly_the_gateways_arguments() -> None:
    # One list of options: help(create_app) shows Gateway's, and each reaches the gateway.
    expected = inspect.signature(Gateway).replace(return_annotation="Starlette")
    assert inspect.signature(create_app) == expected
    assert create_app.__name__ == "create_app"
    assert "Gateway(...).app" in (create_app.__doc__ or "")
    clock = ManualClock(5.0)
    app = create_app(secret=SECRET, audience="app", leeway=2, auth_timeout=3, clock=clock)
    gateway = app.state.gateway
    assert (gateway.limits.leeway, gateway.limits.auth_timeout) == (2, 3)
    assert gateway.clock is clock
    assert gateway.verifier.audience == "app"
    # mypy checks the keywords too: without the error, this ignore would be reported as unused.
    with pytest.raises(TypeError, match="bogus"):
        create_app(secret=SECRET, bogus=1)  # type: ignore[call-arg]


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
        "send_buffer",
        "history_size",
        "close_timeout",
        "request_rate",
        "request_burst",
        "presence_rate",
        "presence_burst",
    ],
)
def test_limits_must_be_positive(option: str) -> None:
    options: dict[str, Any] = {option: 0}
    with pytest.raises(sock8.ConfigError, match=option):
        Gateway(secret=SECRET, **options)


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("https://app.example", TypeError),  # a str: one-letter "origins"
        (["*"], sock8.ConfigError),
        (["https://app.example/login"], sock8.ConfigError),
        (["app.example"], sock8.ConfigError),
    ],
)
def test_allowed_origins_that_would_refuse_everyone_or_no_one_are_refused(
    setting: Any, error: type[Exception]
) -> None:
    broker = sock8.MemoryBroker()
    with pytest.raises(error, match="allowed_origins"):
        Gateway(secret=SECRET, broker=broker, allowed_origins=setting)
    # Nothing was taken: the broker still serves a gateway.
    Gateway(secret=SECRET, broker=broker)


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
    epoch = page.messages[0].epoch
    assert page.messages == (
        Message("c", "3", 1_234_500, 3, epoch),
        Message("c", "2", 1_234_500, 2, epoch),
    )
