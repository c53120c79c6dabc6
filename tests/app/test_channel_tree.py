"""Channel trees (python/sock8/tree.py, channels.py): definition, navigation, ids and emit."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any, Literal

import pytest
from pydantic import PlainSerializer, ValidationError
from sock8 import (
    ChannelError,
    ChannelRef,
    ChannelSpec,
    ChannelTree,
    HistoryPage,
    MemoryBroker,
    PublishError,
    Sock8,
    channel,
    parse_channel,
)
from typing_extensions import TypedDict

from tests.support.example_tree import ChatMessage, Notification, Typing, example_channels
from tests.support.secret import SECRET


class Recorded:
    """A `Publisher` that keeps what it is given (or fails with `error`)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.published: list[tuple[str, str, bool]] = []

    def publish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        if self.error is not None:
            raise self.error
        self.published.append((channel, payload, persist))

    async def apublish(self, channel: str, payload: str, *, persist: bool = False) -> None:
        self.publish(channel, payload, persist=persist)

    def history(self, channel: str, *, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        return HistoryPage((), None)

    async def ahistory(
        self, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        return HistoryPage((), None)


@pytest.fixture
def s8() -> Sock8:
    # An in-process broker: the default publisher posts to a gateway, which these tests lack.
    return Sock8(secret=SECRET, publisher=MemoryBroker())


@pytest.fixture
def channels(s8: Sock8) -> ChannelTree:
    return example_channels(s8)


# The example tree (tests/support/example_tree.py, as in the README's "Channel trees")


def test_the_example_ids(channels: ChannelTree) -> None:
    ref = channels.notification.for_(userId="u1")
    assert isinstance(ref, ChannelRef)
    assert ref.id == "notification.u1##userId"
    assert channels.admin.logs.id == "admin.logs"
    assert channels.chat.messages.for_(roomId="r 1").id == "chat.r%201##roomId.messages"


def test_refs_carry_their_template_params_and_spec(channels: ChannelTree) -> None:
    ref = channels.chat.messages.for_(roomId=7)
    assert ref.template == "chat.{roomId}.messages"
    assert ref.params == {"roomId": 7}
    assert ref.id == "chat.7##roomId.messages"
    assert ref.spec == ChannelSpec(ChatMessage, Typing, history=True)
    assert ref == channels.chat.messages.for_(roomId="7")
    assert len({ref, channels.chat.messages.for_(roomId="7")}) == 1
    assert repr(ref) == "ChannelRef('chat.7##roomId.messages')"


def test_static_node_acts_as_its_ref(channels: ChannelTree) -> None:
    node = channels.admin.logs
    assert isinstance(node, ChannelTree)
    assert node.ref.id == node.id == "admin.logs"
    assert node.spec == ChannelSpec(str)
    assert node.for_() == node.ref


# Definition forms and schemas


def test_both_definition_forms_are_equivalent(s8: Sock8) -> None:
    tree = s8.channels(
        {
            "a": channel(ChatMessage, presence=Typing, history=True),
            "b": (ChatMessage, {"presence": Typing, "history": True}),
            "c": (ChatMessage,),
            "d": ChatMessage,
        }
    )
    assert tree.a.spec == tree.b.spec == ChannelSpec(ChatMessage, Typing, True)
    assert tree.c.spec == tree.d.spec == ChannelSpec(ChatMessage)


class Point(TypedDict):
    x: int
    y: int


@dataclasses.dataclass
class Move:
    to: str


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        (str, "hi", 5),
        (int, 5, "five"),
        (list[int], [1, 2], ["x"]),
        (Point, {"x": 1, "y": 2}, {"x": 1}),
        (Move, {"to": "a"}, {}),
        (Literal["on", "off"], "on", "dim"),
        (None, {"any": [1, None, "json"]}, object()),
    ],
)
def test_schemas_are_anything_type_adapter_accepts(
    s8: Sock8, schema: Any, good: Any, bad: Any
) -> None:
    tree = s8.channels({"c": schema})
    tree.c.emit(good)
    with pytest.raises(ValidationError):
        tree.c.emit(bad)


# Navigation


def test_item_access_reaches_non_identifiers_and_reserved_names(s8: Sock8) -> None:
    tree = s8.channels({"my-app.2fa": None, "user.id": None, "user.emit.for_": None})
    assert tree["my-app"]["2fa"].id == "my-app.2fa"
    assert tree.user["id"].id == "user.id"
    assert tree.user["emit"]["for_"].id == "user.emit.for_"
    assert "user" in dir(tree)
    assert "my-app" not in dir(tree)


def test_unknown_children_are_attribute_and_key_errors(channels: ChannelTree) -> None:
    with pytest.raises(
        AttributeError, match=r"channels.chat has no child 'mesages' \(children: messages\)"
    ):
        _ = channels.chat.mesages
    assert not hasattr(channels, "nope")
    with pytest.raises(KeyError, match="mesages"):
        _ = channels.chat["mesages"]


def test_dispatch_on_the_exact_parameter_name_set(s8: Sock8) -> None:
    tree = s8.channels(
        {
            "chat.messages": None,
            "chat.{roomId}.messages": None,
            "chat.{orgId}.{roomId}.messages": None,
            "chat.messages.{userId}": None,
        }
    )
    node = tree.chat.messages
    assert node.id == "chat.messages"
    assert node.for_(roomId="r").id == "chat.r##roomId.messages"
    assert node.for_(roomId="r", orgId="o").id == "chat.o##orgId.r##roomId.messages"
    assert node.for_(userId="u").id == "chat.messages.u##userId"


def test_root_level_parameter(s8: Sock8) -> None:
    tree = s8.channels({"{userId}": None, "{userId}.inbox": None})
    assert tree.for_(userId="u1").id == "u1##userId"
    assert tree.inbox.for_(userId="u1").id == "u1##userId.inbox"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({}, r"channels.chat.messages.for_\(\) matches no channel"),
        ({"room": "r"}, r"for_\(room=...\) matches no channel; expected for_\(roomId=...\)$"),
        ({"roomId": "r", "x": 1}, r"for_\(roomId=..., x=...\) matches no channel"),
        ({"roomId": True}, r"'chat.\{roomId\}.messages': value for parameter \"roomId\" must be"),
        ({"roomId": ""}, r"'chat.\{roomId\}.messages': value for parameter \"roomId\" is empty"),
        ({"roomId": 1.5}, r"must be str or int"),
        ({"roomId": "x" * 600}, r"512"),
    ],
)
def test_wrong_for_arguments_name_what_was_expected(
    channels: ChannelTree, params: dict[str, Any], match: str
) -> None:
    with pytest.raises(ChannelError, match=match):
        channels.chat.messages.for_(**params)


@pytest.mark.parametrize(("value", "fits"), [("", True), (True, True), ("x" * 600, False)])
def test_for_errors_keep_the_parameter_the_core_names(
    channels: ChannelTree, value: Any, fits: bool
) -> None:
    with pytest.raises(ChannelError, match=r"^'chat.\{roomId\}.messages': ") as info:
        channels.chat.messages.for_(roomId=value)
    # A value is named by its parameter; a rendered id over the size limit is about the whole.
    expected = (None, "roomId") if fits else (None, None)
    assert (info.value.position, info.value.segment) == expected


def test_for_lists_every_accepted_signature(s8: Sock8) -> None:
    tree = s8.channels({"a": None, "a.{x}": None, "{y}.a.{z}": None})
    with pytest.raises(ChannelError, match=r"expected for_\(x=...\) or for_\(y=..., z=...\) or no"):
        tree.a.for_(q=1)


def test_a_node_that_needs_for_is_not_a_channel(channels: ChannelTree) -> None:
    with pytest.raises(
        ChannelError,
        match=r"channels.chat.messages is not a static channel; use for_\(roomId=...\)",
    ):
        _ = channels.chat.messages.id
    with pytest.raises(ChannelError, match=r"channels.chat is not a static channel"):
        channels.chat.emit({"text": "hi"})
    with pytest.raises(ChannelError, match="children: messages"):
        channels.chat.for_(roomId="r")


# Escaping: values are escaped by the Rust core, injectively


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a.b", "a%2Eb"),
        ("a(dot)b", "a%28dot%29b"),
        ("#", "%23"),
        ("##roomId", "%23%23roomId"),
        ("%", "%25"),
        ("%2E", "%252E"),
        ("é", "%C3%A9"),
        ("🙂", "%F0%9F%99%82"),
        ("a/b?c", "a%2Fb%3Fc"),
        ("r 1", "r%201"),
        ("{x}", "%7Bx%7D"),
        ("safe-_~09AZaz", "safe-_~09AZaz"),
        (-5, "-5"),
    ],
)
def test_hostile_values_are_escaped(channels: ChannelTree, value: str | int, escaped: str) -> None:
    ref = channels.chat.messages.for_(roomId=value)
    assert ref.id == f"chat.{escaped}##roomId.messages"
    assert parse_channel(ref.id) == ("chat.{roomId}.messages", {"roomId": str(value)})


def test_dot_and_sock8s_dot_substitute_do_not_collide(channels: ChannelTree) -> None:
    dotted = channels.chat.messages.for_(roomId="a.b")
    substituted = channels.chat.messages.for_(roomId="a(dot)b")
    assert dotted.id != substituted.id


# Definition errors: raised by channels(), naming the key


class Opaque:
    """A class pydantic has no schema for."""


DEFINITION_ERRORS: list[tuple[Any, str]] = [
    ({"a.{b}.{b}": None}, r"channel 'a.\{b\}.\{b\}': parameter \"b\" appears twice"),
    ({"a b": None}, r"channel 'a b': segment 1"),
    ({"a..b": None}, r"channel 'a..b': segment 2 is empty"),
    ({"": None}, r"channel '': "),
    ({"a.*": None}, r"channel 'a.\*': "),
    ({"a.{1x}": None}, r"channel 'a.\{1x\}': "),
    ({"chat.{room-id}": None}, r"channel 'chat.\{room-id\}': "),
    ({".".join("s" * 17): None}, r"channel 's.s.s"),
    ({"x" * 65: None}, r"channel 'xxxx"),
    ({"é": None}, r"channel 'é': "),
    ({1: None}, r"channel keys are templates \(str\), not 1"),
    ({"a.{x}.b": None, "a.b.{x}": None}, r"channel 'a.b.\{x\}': ambiguous with 'a.\{x\}.b'"),
    ({"a": Opaque}, r"channel 'a': schema <class .*Opaque'> is invalid"),
    ({"a": object()}, r"channel 'a': schema <object object at .*> is invalid"),
    ({"a": channel(str, presence=Opaque)}, r"channel 'a': presence schema .*Opaque'> is invalid"),
    ({"a": ()}, r"channel 'a': a tuple definition is \(schema,\) or \(schema, config\)"),
    ({"a": (str, {}, {})}, r"channel 'a': a tuple definition is"),
    ({"a": (str, "history")}, r"channel 'a': the config must be a mapping"),
    ({"a": (str, {"histroy": True})}, r"channel 'a': unknown config key 'histroy'"),
    ({"a": (str, {"history": "yes"})}, r"channel 'a': history must be True or False"),
]


@pytest.mark.parametrize(("definitions", "match"), DEFINITION_ERRORS)
def test_definition_errors_name_the_key(s8: Sock8, definitions: Any, match: str) -> None:
    with pytest.raises(ChannelError, match=match):
        s8.channels(definitions)


@pytest.mark.parametrize(
    ("definitions", "position", "segment"),
    [
        ({"chat.a b": None}, 2, "a b"),
        ({"chat..x": None}, 2, None),
        ({"{x}.b.{x}": None}, 3, "x"),
        ({"chat.{1x}": str}, 2, "1x"),
        ({"a": (str, {"history": "yes"})}, None, None),  # not the grammar: nothing to name
    ],
)
def test_definition_errors_keep_what_the_core_names(
    s8: Sock8, definitions: Any, position: int | None, segment: str | None
) -> None:
    with pytest.raises(ChannelError, match=r"^channel ") as info:
        s8.channels(definitions)
    assert (info.value.position, info.value.segment) == (position, segment)


def test_channels_takes_a_mapping(s8: Sock8) -> None:
    with pytest.raises(ChannelError, match="mapping"):
        s8.channels([("a", None)])  # type: ignore[arg-type]


def test_channel_checks_its_options_when_called() -> None:
    with pytest.raises(ChannelError, match="history must be True or False, not 'yes'"):
        channel(str, history="yes")  # type: ignore[arg-type]


# Mounted sub-trees: ids are prefixed by the mount point


def test_mounted_sub_trees_get_prefixed_ids(s8: Sock8) -> None:
    chat = s8.channels({"messages": channel(ChatMessage, history=True), "typing.{userId}": Typing})
    tree = s8.channels({"chat.{roomId}": chat, "support": chat, "admin.logs": str})
    assert tree.chat.messages.for_(roomId="r 1").id == "chat.r%201##roomId.messages"
    assert tree.chat.typing.for_(roomId="r", userId="u").id == "chat.r##roomId.typing.u##userId"
    assert tree.support.messages.id == "support.messages"
    assert tree.support.messages.spec.history is True
    # The sub-tree itself keeps its own, unprefixed ids.
    assert chat.messages.id == "messages"
    assert set(tree.definitions) == {
        "chat.{roomId}.messages",
        "chat.{roomId}.typing.{userId}",
        "support.messages",
        "support.typing.{userId}",
        "admin.logs",
    }


def test_mounts_nest(s8: Sock8) -> None:
    inner = s8.channels({"messages": None})
    middle = s8.channels({"rooms.{roomId}": inner})
    outer = s8.channels({"org.{orgId}": middle})
    assert outer.org.rooms.messages.for_(orgId="o", roomId="r").id == (
        "org.o##orgId.rooms.r##roomId.messages"
    )


def test_mounted_trees_publish_through_the_tree_they_are_mounted_in() -> None:
    first, second = Recorded(), Recorded()
    sub = Sock8(secret=SECRET, publisher=first).channels({"messages": str})
    tree = Sock8(secret=SECRET, publisher=second).channels({"chat": sub})
    tree.chat.messages.emit("hi")
    assert first.published == []
    assert second.published == [("chat.messages", '"hi"', False)]


@pytest.mark.parametrize(
    ("definitions", "match"),
    [
        (lambda sub: {"chat.messages": None, "chat": sub}, r"'chat.messages' .*defined twice"),
        (
            lambda sub: {"chat.{roomId}": sub, "chat.messages.{roomId}": None},
            r"ambiguous with 'chat.\{roomId\}.messages'",
        ),
        (lambda sub: {"x.{userId}": sub}, r"parameter \"userId\" appears twice"),
        (lambda sub: {"a b": sub}, r"channel 'a b': segment 1"),
        (lambda sub: {".".join("s" * 15): sub}, r"from 'typing.\{userId\}' mounted at"),
    ],
)
def test_mount_errors_name_the_key(s8: Sock8, definitions: Any, match: str) -> None:
    sub = s8.channels({"messages": None, "typing.{userId}": None})
    with pytest.raises(ChannelError, match=match):
        s8.channels(definitions(sub))


def test_mount_errors_keep_what_the_core_names(s8: Sock8) -> None:
    sub = s8.channels({"typing.{userId}": None})
    with pytest.raises(ChannelError, match=r"mounted at 'x\.\{userId\}'") as info:
        s8.channels({"x.{userId}": sub})
    # The segment of the whole template: x.{userId}.typing.{userId}
    assert (info.value.position, info.value.segment) == (4, "userId")
    with pytest.raises(ChannelError, match=r"^channel 'a b'") as info:
        s8.channels({"a b": sub})
    assert (info.value.position, info.value.segment) == (1, "a b")


def test_only_whole_trees_can_be_mounted(s8: Sock8, channels: ChannelTree) -> None:
    with pytest.raises(ChannelError, match=r"channel 'x': only a whole tree .* not channels.chat"):
        s8.channels({"x": channels.chat})


# emit / aemit


def test_emit_validates_encodes_once_and_publishes() -> None:
    recorded = Recorded()
    s8 = Sock8(secret=SECRET, publisher=recorded)
    tree = s8.channels(
        {"n.{userId}": Notification, "chat.{roomId}": channel(ChatMessage, history=True)}
    )
    tree.n.for_(userId="u1").emit({"title": "hi", "body": "there"})
    tree.n.for_(userId="u1").emit(Notification(title="a", body="b"))
    asyncio.run(tree.chat.for_(roomId="r").aemit({"text": "x"}))
    assert recorded.published == [
        ("n.u1##userId", '{"title":"hi","body":"there"}', False),
        ("n.u1##userId", '{"title":"a","body":"b"}', False),
        ("chat.r##roomId", '{"text":"x"}', True),
    ]


def test_invalid_payloads_raise_and_publish_nothing() -> None:
    broker = MemoryBroker()
    s8 = Sock8(secret=SECRET, publisher=broker)
    tree = s8.channels({"chat.{roomId}": channel(ChatMessage, history=True)})
    ref = tree.chat.for_(roomId="r")
    delivered: list[object] = []
    broker.subscribe(ref.id, delivered.append)
    with pytest.raises(ValidationError):
        ref.emit({"txt": "typo"})
    with pytest.raises(ValidationError):
        asyncio.run(ref.aemit({"text": 5}))
    assert delivered == []
    assert broker.history(ref.id).messages == ()
    ref.emit({"text": "ok"})
    assert len(delivered) == 1


def test_history_channels_are_persisted_others_are_not() -> None:
    broker = MemoryBroker()
    tree = Sock8(secret=SECRET, publisher=broker).channels(
        {"kept": channel(str, history=True), "gone": str}
    )
    tree.kept.emit("a")
    tree.gone.emit("b")
    assert [m.payload for m in broker.history("kept").messages] == ['"a"']
    assert broker.history("gone").messages == ()


@pytest.mark.parametrize("error", [OSError("gateway down"), RuntimeError("boom")])
def test_publisher_failures_are_publish_errors(error: Exception) -> None:
    tree = Sock8(secret=SECRET, publisher=Recorded(error)).channels({"a": str})
    with pytest.raises(PublishError, match="publishing to 'a' failed") as caught:
        tree.a.emit("x")
    assert caught.value.__cause__ is error
    with pytest.raises(PublishError) as caught:
        asyncio.run(tree.a.aemit("x"))
    assert caught.value.__cause__ is error


def test_publish_errors_pass_through_unwrapped() -> None:
    error = PublishError("queue full")
    tree = Sock8(secret=SECRET, publisher=Recorded(error)).channels({"a": str})
    with pytest.raises(PublishError) as caught:
        tree.a.emit("x")
    assert caught.value is error


def test_unencodable_values_are_publish_errors(s8: Sock8) -> None:
    def explode(value: int) -> int:
        raise ValueError("no JSON for you")

    tree = s8.channels({"a": Annotated[int, PlainSerializer(explode)]})
    with pytest.raises(PublishError, match="'a' is not JSON-encodable"):
        tree.a.emit(1)


def test_the_publisher_can_be_swapped_after_definition(s8: Sock8) -> None:
    tree = s8.channels({"a": str})
    recorded = Recorded()
    s8.publisher = recorded
    tree.a.emit("x")
    assert recorded.published == [("a", '"x"', False)]
