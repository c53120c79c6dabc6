"""Payload text at the publisher boundary: `sock8._core.check_json` and the
`publish()` of every publisher sock8 ships.

A payload is JSON text that frames and publish bodies are built around without parsing it again
(`gateway/frames.channel_message`, `HttpPublisher`'s body). Text that is more than one JSON
value could add members to that envelope: `"hi","channel":"notification.alice##userId"` read by
`json.loads` (the last duplicate wins) goes to alice's channel. So `publish()` refuses anything
but exactly one strict JSON value, with a `ValueError`, before anything is sent or stored.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import sock8
from hypothesis import given, settings
from hypothesis import strategies as st
from sock8 import HttpPublisher, MemoryBroker, Message
from sock8._core import MAX_PAYLOAD_DEPTH, check_json
from sock8.publisher import check_payload

from tests.support.http_recorder import recorder
from tests.support.secret import SECRET

ALICE = "notification.alice##userId"
LOBBY = "chat.lobby"

RETARGETING = [
    # The attack: a second member after the payload, which the envelope's reader would take.
    f'"hi","channel":"{ALICE}"',
    f'{{"text":"hi"}},"channel":"{ALICE}"',
    '1,"persist":true',
    '"hi"}, {"channel": "x", "payload": "y"',
]

NOT_ONE_VALUE = [
    *RETARGETING,
    "",
    "   ",
    "hi",
    "1 2",
    '"a" "b"',
    "[1]]",
    '{"a":1}}',
    '{"a":1,"a":2}',  # two readers, two values
    '[{"k":1,"\\u006b":2}]',
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "[-1e400]",
    '"\\ud800"',
    "\ufeff1",
    "01",
    "[1,]",
    "{'a':1}",
    "// comment\n1",
    "[" * (MAX_PAYLOAD_DEPTH + 1) + "]" * (MAX_PAYLOAD_DEPTH + 1),
]

ONE_VALUE = [
    "0",
    "-1.5e-3",
    "123456789012345678901234567890",
    '"hi"',
    '"\\ud83d\\ude00 é \\u0000"',
    "true",
    "false",
    "null",
    "[]",
    "{}",
    ' \n{"text":"hi","n":[1,2.5,{"deep":null}]}\t',
    '[{"k":1},{"k":1}]',  # the same name in two objects is no duplicate
    "[" * MAX_PAYLOAD_DEPTH + "]" * MAX_PAYLOAD_DEPTH,
]


# check_json


@pytest.mark.parametrize("text", ONE_VALUE)
def test_check_json_accepts_exactly_one_value(text: str) -> None:
    check_json(text)
    check_json(text.encode())


@pytest.mark.parametrize("text", NOT_ONE_VALUE)
def test_check_json_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid JSON: "):
        check_json(text)


def test_check_json_says_what_and_where() -> None:
    with pytest.raises(ValueError, match=r"^invalid JSON: trailing characters at line 1 column 5$"):
        check_json(RETARGETING[0])
    with pytest.raises(ValueError, match=r'duplicate member name "a" at line 2 column 5'):
        check_json('{"a":1,\n "a":2}')
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_PAYLOAD_DEPTH}"):
        check_json("[" * 100_000)
    with pytest.raises(ValueError, match="not valid Unicode"):
        check_json('"\ud800"')  # a lone surrogate in the str itself
    with pytest.raises(ValueError, match="not UTF-8"):
        check_json(b'"\xff"')


def test_check_json_depth_limit() -> None:
    assert MAX_PAYLOAD_DEPTH == 64
    check_json("[[1]]", max_depth=2)
    check_json("1", max_depth=1)
    with pytest.raises(ValueError, match="nested deeper than 1"):
        check_json("[[1]]", max_depth=1)
    deepest = 2 * MAX_PAYLOAD_DEPTH
    check_json("[" * deepest + "]" * deepest, max_depth=deepest)
    for bad in (0, -1, deepest + 1, 2**70):
        with pytest.raises(ValueError, match=f"max_depth must be from 1 to {deepest}"):
            check_json("1", max_depth=bad)
    for wrong in (True, 2.0, "2"):
        with pytest.raises(TypeError):
            check_json("1", max_depth=wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [1, None, bytearray(b"1"), ["1"]])
def test_check_json_takes_text(text: object) -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        check_json(text)  # type: ignore[arg-type]


def test_check_json_on_large_texts() -> None:
    # Checked without the GIL from 64 KiB on: same answers.
    big = json.dumps({"items": [{"n": i, "s": "é" * 10} for i in range(10_000)]})
    assert len(big) > 64 * 1024
    check_json(big)
    with pytest.raises(ValueError, match="trailing characters"):
        check_json(big + ',"channel":"x"')


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(deadline=None, max_examples=300)
@given(value=JSON_VALUES, ascii_only=st.booleans(), indent=st.sampled_from([None, 2]))
def test_check_json_accepts_what_json_dumps_writes(
    value: object, ascii_only: bool, indent: int | None
) -> None:
    # What emit's encoders write is always accepted (hypothesis' text has no lone surrogates).
    check_json(json.dumps(value, ensure_ascii=ascii_only, indent=indent))


# publish() of each publisher


def deliveries(broker: MemoryBroker, channel: str) -> list[Message]:
    seen: list[Message] = []
    broker.subscribe(channel, seen.append)
    return seen


@pytest.mark.parametrize("payload", NOT_ONE_VALUE)
def test_memory_broker_refuses_and_keeps_its_state(payload: str) -> None:
    broker = MemoryBroker()
    lobby, alice = deliveries(broker, LOBBY), deliveries(broker, ALICE)
    broker.publish(LOBBY, '"before"', persist=True)
    with pytest.raises(ValueError, match=f"^payload for '{LOBBY}': invalid JSON: "):
        broker.publish(LOBBY, payload, persist=True)
    with pytest.raises(ValueError, match="invalid JSON"):
        asyncio.run(broker.apublish(LOBBY, payload, persist=True))
    broker.publish(LOBBY, '"after"', persist=True)
    assert [m.payload for m in lobby] == ['"before"', '"after"']
    assert alice == []
    page = broker.history(LOBBY, limit=1)
    assert [m.payload for m in page.messages] == ['"after"']
    # The refused messages took no place in the history, nor a cursor position.
    rest = broker.history(LOBBY, cursor=page.next_cursor)
    assert [m.payload for m in rest.messages] == ['"before"']


@pytest.mark.parametrize("payload", ONE_VALUE)
def test_memory_broker_publishes_any_single_value_as_is(payload: str) -> None:
    broker = MemoryBroker()
    seen = deliveries(broker, LOBBY)
    broker.publish(LOBBY, payload)
    assert [m.payload for m in seen] == [payload]


def test_a_payload_must_be_text() -> None:
    with pytest.raises(TypeError, match="JSON text"):
        MemoryBroker().publish(LOBBY, b"1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JSON text"):
        check_payload(LOBBY, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", NOT_ONE_VALUE)
def test_http_publisher_refuses_before_sending_anything(payload: str, transport: str) -> None:
    with recorder() as gateway:
        publisher = HttpPublisher(gateway.url("/connect"), SECRET)
        with pytest.raises(ValueError, match=f"^payload for '{LOBBY}': invalid JSON: "):
            publisher.publish(LOBBY, payload)
        with pytest.raises(ValueError, match="invalid JSON"):
            asyncio.run(publisher.apublish(LOBBY, payload))
        publisher.publish(LOBBY, '"fine"')
        publisher.close()
    assert [json.loads(r.body) for r in gateway.requests] == [
        {"channel": LOBBY, "payload": "fine", "persist": False}
    ]


def test_emit_still_publishes_what_the_schema_encodes() -> None:
    """`emit` encodes with the schema, so its text always passes; the check is invisible."""
    broker = MemoryBroker()
    s8 = sock8.Sock8(secret=SECRET, publisher=broker)
    tree = s8.channels({"chat.{roomId}": dict[str, object]})
    ref = tree.chat.for_(roomId="r 1")
    seen = deliveries(broker, ref.id)
    ref.emit({"text": '","channel":"x', "nested": [[{"a": None}]], "n": 1e308})
    assert [json.loads(m.payload) for m in seen] == [
        {"text": '","channel":"x', "nested": [[{"a": None}]], "n": 1e308}
    ]
