"""Parity, docs/spec.md §1 Channel ids: templates (§1.1), rendering (§1.2) and parsing (§1.3),
and that rendering and parsing are inverses."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from sock8 import errors

from tests.core import reference as ref
from tests.core.parity.cases import (
    GOOD_NASTY_TEMPLATES,
    GOOD_NASTY_WIRE_IDS,
    NASTY_RENDERS,
    NASTY_TEMPLATES,
    NASTY_WIRE_IDS,
)
from tests.core.parity.compare import REFERENCE, RUST, budget, raised, returned, same, template_view
from tests.core.parity.strategies import (
    any_templates,
    any_values,
    any_wire_ids,
    good_values,
    template_params,
    valid_templates,
    values_for,
)


@budget(300)
@given(template=any_templates)
@example(template="chat.{roomId}.messages")
def test_template_parity(template: str) -> None:
    same(lambda impl: template_view(impl.ChannelTemplate(template)))


@budget(300)
@given(template=any_templates, data=st.data())
@example(template="chat.{roomId}.messages", data=None)
def test_render_parity(template: str, data: st.DataObject | None) -> None:
    if data is None:
        values: dict[str, object] = {"roomId": "r 1"}
    else:
        values = data.draw(values_for(template_params(template), any_values), label="values")
    result = same(lambda impl: impl.render_channel(template, values))
    same(lambda impl: impl.ChannelTemplate(template).render(values))
    if data is None:
        assert result == ("returned", "chat.r%201##roomId.messages")


@budget(150)
@given(template=valid_templates(), data=st.data())
def test_render_then_parse_round_trips(template: str, data: st.DataObject) -> None:
    params = ref.ChannelTemplate(template).params
    values = data.draw(st.fixed_dictionaries(dict.fromkeys(params, good_values)))
    result = same(lambda impl: impl.render_channel(template, values))
    assume(result[0] == "returned")
    wire_id = result[1]
    expected = (template, {name: str(value) for name, value in values.items()})
    for impl in (RUST, REFERENCE):
        assert impl.parse_channel(wire_id) == expected, impl.__name__


@budget(300)
@given(wire_id=any_wire_ids)
@example(wire_id="chat.r%201##roomId.messages")
def test_parse_parity(wire_id: str) -> None:
    result = same(lambda impl: impl.parse_channel(wire_id))
    if result[0] == "returned":
        template, values = ref.parse_channel(wire_id)
        for impl in (RUST, REFERENCE):
            parsed = impl.parse_channel(wire_id)
            assert type(parsed) is tuple
            assert type(parsed[1]) is dict
            assert list(parsed[1].items()) == list(values.items())
            assert impl.render_channel(template, values) == wire_id, impl.__name__


@budget(150)
@given(template=valid_templates(), data=st.data())
def test_render_is_injective(template: str, data: st.DataObject) -> None:
    params = ref.ChannelTemplate(template).params
    assume(params)
    first = data.draw(st.fixed_dictionaries(dict.fromkeys(params, good_values)))
    second = data.draw(st.fixed_dictionaries(dict.fromkeys(params, good_values)))
    as_text = {name: str(value) for name, value in first.items()}
    assume(as_text != {name: str(value) for name, value in second.items()})
    a = same(lambda impl: impl.render_channel(template, first))
    b = same(lambda impl: impl.render_channel(template, second))
    if a[0] == b[0] == "returned":
        assert a[1] != b[1]


@pytest.mark.parametrize(
    ("first", "second"),
    [("a.b", "a(dot)b"), ("a b", "a%20b"), ("%", "%25"), ("~", "%7E"), ("-1", "%2D1"), ("é", "e")],
)
def test_render_is_injective_examples(first: str, second: str) -> None:
    a = same(lambda impl: impl.render_channel("c.{x}", {"x": first}))
    b = same(lambda impl: impl.render_channel("c.{x}", {"x": second}))
    assert returned(a) != returned(b)


def test_template_equality_and_hash() -> None:
    for impl in (RUST, REFERENCE):
        a, b, c = (impl.ChannelTemplate(t) for t in ("chat.{r}", "chat.{r}", "chat.{s}"))
        assert a == b, impl.__name__
        assert hash(a) == hash(b), impl.__name__
        assert a != c, impl.__name__


@pytest.mark.parametrize("template", NASTY_TEMPLATES)
def test_nasty_templates(template: str) -> None:
    result = same(lambda impl: template_view(impl.ChannelTemplate(template)))
    if template in GOOD_NASTY_TEMPLATES:
        returned(result)
    else:
        assert raised(result) is errors.ChannelError


@pytest.mark.parametrize(("template", "values"), NASTY_RENDERS)
def test_nasty_renders(template: str, values: Mapping[str, object] | None) -> None:
    same(lambda impl: impl.render_channel(template, values))


@pytest.mark.parametrize("wire_id", NASTY_WIRE_IDS)
def test_nasty_wire_ids(wire_id: str) -> None:
    result = same(lambda impl: impl.parse_channel(wire_id))
    if wire_id in GOOD_NASTY_WIRE_IDS:
        returned(result)
    else:
        assert raised(result) is errors.ChannelError


@pytest.mark.parametrize("wire_id", [5, None, b"a.b", ["a"]])
def test_parse_non_str(wire_id: object) -> None:
    assert raised(same(lambda impl: impl.parse_channel(wire_id))) is TypeError
