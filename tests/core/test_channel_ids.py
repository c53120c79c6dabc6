"""Channel ids (rust/src/core/channel.rs): templates, escaping, rendering, strict parsing."""

from __future__ import annotations

from typing import Any

import pytest
import sock8
from sock8 import ChannelError, ChannelTemplate, parse_channel, render_channel

from tests.support.repo import load_vectors

VECTORS = load_vectors("channels.json")


@pytest.mark.parametrize("case", VECTORS["render"], ids=lambda c: c["template"])
def test_render_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ChannelError):
            render_channel(case["template"], case["values"])
    else:
        assert render_channel(case["template"], case["values"]) == case["id"]
        assert ChannelTemplate(case["template"]).render(case["values"]) == case["id"]


@pytest.mark.parametrize("case", VECTORS["templates"], ids=lambda c: c["template"])
def test_template_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ChannelError):
            ChannelTemplate(case["template"])
    else:
        template = ChannelTemplate(case["template"])
        assert template.params == tuple(case["params"])
        assert template.template == case["template"]


@pytest.mark.parametrize("case", VECTORS["parse"], ids=lambda c: c["id"][:40])
def test_parse_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ChannelError):
            parse_channel(case["id"])
    else:
        assert parse_channel(case["id"]) == (case["template"], case["values"])
        assert render_channel(*parse_channel(case["id"])) == case["id"]


def test_int_values_render_in_decimal() -> None:
    template = ChannelTemplate("user.{id}")
    assert template.render({"id": 42}) == "user.42##id"
    assert template.render({"id": -7}) == "user.-7##id"
    assert template.render({"id": 10**30}) == f"user.{10**30}##id"


def test_int_subclass_renders_its_value_not_its_str() -> None:
    class Loud(int):
        def __str__(self) -> str:
            return "loud"

    assert render_channel("user.{id}", {"id": Loud(5)}) == "user.5##id"


@pytest.mark.parametrize("value", [True, False, 1.5, None, b"x", ["x"], object()])
def test_values_other_than_str_or_int_are_refused(value: object) -> None:
    with pytest.raises(ChannelError, match="must be str or int"):
        render_channel("user.{id}", {"id": value})  # type: ignore[dict-item]


def test_lone_surrogates_are_channel_errors() -> None:
    with pytest.raises(ChannelError):
        render_channel("user.{id}", {"id": "\ud800"})
    with pytest.raises(ChannelError):
        parse_channel("user.x\ud800")
    with pytest.raises(ChannelError):
        ChannelTemplate("a.\udfff")


def test_errors_name_what_was_expected() -> None:
    template = ChannelTemplate("chat.{roomId}.messages")
    with pytest.raises(
        ChannelError, match=r"missing value for parameter \"roomId\"; expected \{roomId\}"
    ):
        template.render({})
    with pytest.raises(ChannelError, match=r"unexpected parameter \"room\"; expected \{roomId\}"):
        template.render({"room": "x"})
    with pytest.raises(ChannelError, match="appears twice"):
        ChannelTemplate("a.{x}.{x}")


def test_channel_error_is_a_value_error_and_a_sock8_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_channel("")
    assert issubclass(ChannelError, sock8.Sock8Error)


@pytest.mark.parametrize("bad", [None, 1, b"admin.logs"])
def test_non_str_ids_are_type_errors(bad: object) -> None:
    with pytest.raises(TypeError):
        parse_channel(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ChannelTemplate(bad)  # type: ignore[arg-type]


def test_values_may_be_any_mapping() -> None:
    class Params:
        def items(self) -> list[tuple[str, str]]:
            return [("roomId", "r1")]

    assert render_channel("chat.{roomId}", Params()) == "chat.r1##roomId"  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        render_channel("chat.{roomId}", 5)  # type: ignore[arg-type]


def test_templates_compare_and_hash_by_text() -> None:
    a, b = ChannelTemplate("a.{x}"), ChannelTemplate("a.{x}")
    assert a == b
    assert hash(a) == hash(b)
    assert a != ChannelTemplate("a.{y}")
    assert repr(a) == 'ChannelTemplate("a.{x}")'


def test_huge_inputs_are_refused_without_scanning_them() -> None:
    million_dots = "." * 1_000_000
    with pytest.raises(ChannelError):
        parse_channel(million_dots)
    with pytest.raises(ChannelError):
        ChannelTemplate(million_dots)
    with pytest.raises(ChannelError):
        ChannelTemplate("a" * 1_000_000)


def test_limits_are_exported() -> None:
    assert sock8._core.MAX_WIRE_ID_BYTES == 512
    assert sock8._core.MAX_SEGMENTS == 16
