"""What the core knows about a refusal beyond its message (rust/src/py/errors.rs):
`ChannelError.position` and `.segment`, `UnknownKey.kid`; `None` where they do not apply, and
the exceptions still print, pickle and copy as before."""

from __future__ import annotations

import copy
import pickle

import pytest
from sock8 import (
    ChannelError,
    ChannelTemplate,
    MalformedToken,
    Signer,
    UnknownKey,
    Verifier,
    parse_channel,
    render_channel,
)
from sock8._core import MAX_SEGMENTS, MAX_WIRE_ID_BYTES

NOW = 1_700_000_000
OTHER = "other-secret-0123456789abcdef-0123456789"


def channel_error(call: object, *args: object) -> ChannelError:
    assert callable(call)
    with pytest.raises(ChannelError) as info:
        call(*args)
    return info.value


# ChannelError: a segment of the text being read


@pytest.mark.parametrize(
    ("wire_id", "position", "segment"),
    [
        ("a..b", 2, None),  # an empty segment has no text to show
        (".a", 1, None),
        ("a.b*", 2, "b*"),  # a static segment: its text
        ("a.b c.d", 2, "b c"),
        ("chat.v##1x", 2, "1x"),  # a parameter: its name
        ("a.v##x.w##x", 3, "x"),  # the second use of a name
        ("a.b.%2e##x", 3, "x"),  # a needless, lower-case escape
        ("a.%41##x", 2, "x"),
        ("a.%FF##x", 2, "x"),  # not UTF-8 once decoded
        ("a.##x", 2, "x"),  # an empty value
    ],
)
def test_a_wire_id_error_names_its_segment(
    wire_id: str, position: int, segment: str | None
) -> None:
    error = channel_error(parse_channel, wire_id)
    assert (error.position, error.segment) == (position, segment)


@pytest.mark.parametrize(
    ("template", "position", "segment"),
    [
        ("chat..x", 2, None),
        ("chat.a b", 2, "a b"),
        ("chat.{1x}", 2, "1x"),
        ("{x}.b.{x}", 3, "x"),
        ("a.*", 2, "*"),
    ],
)
def test_a_template_error_names_its_segment(
    template: str, position: int, segment: str | None
) -> None:
    for make in (ChannelTemplate, lambda t: render_channel(t, {})):
        error = channel_error(make, template)
        assert (error.position, error.segment) == (position, segment)


def test_signing_a_bad_channel_names_its_segment(secret: str) -> None:
    signer = Signer(secret)
    error = channel_error(signer.sign, "u", ["ok.a", "chat.r%201##roomId.x y"])
    assert (error.position, error.segment) == (3, "x y")


# ChannelError: the values given to render name the parameter, at no position


@pytest.mark.parametrize(
    ("values", "segment"),
    [
        ({}, "roomId"),  # missing
        ({"roomId": "r", "room": "x"}, "room"),  # unexpected
        ({"roomId": ""}, "roomId"),  # empty
        ({"roomId": True}, "roomId"),  # not str or int
        ({"roomId": 1.5}, "roomId"),
        ({"roomId": "\ud800"}, "roomId"),  # a lone surrogate
    ],
)
def test_a_render_error_names_the_parameter(values: dict[str, object], segment: str) -> None:
    template = ChannelTemplate("chat.{roomId}")
    error = channel_error(template.render, values)
    assert (error.position, error.segment) == (None, segment)
    error = channel_error(render_channel, "chat.{roomId}", values)
    assert (error.position, error.segment) == (None, segment)


def test_a_parameter_name_that_is_not_text_is_not_shown() -> None:
    error = channel_error(render_channel, "chat.{roomId}", {"roomId": "r", "\ud800": "x"})
    assert (error.position, error.segment) == (None, None)


# ChannelError: about the whole text, not one segment


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_channel(""),
        lambda: parse_channel("a" * (MAX_WIRE_ID_BYTES + 1)),
        lambda: parse_channel(".".join(["a"] * (MAX_SEGMENTS + 1))),
        lambda: parse_channel("a.b\ud800"),
        lambda: ChannelTemplate(""),
        lambda: ChannelTemplate("a." * 1000),
        lambda: render_channel("chat.{roomId}", {"roomId": "x" * MAX_WIRE_ID_BYTES}),
        lambda: render_channel("chat.{roomId}", {"roomId": 10**700}),
    ],
)
def test_errors_about_the_whole_text_have_no_position(call: object) -> None:
    error = channel_error(call)
    assert (error.position, error.segment) == (None, None)


def test_channel_errors_raised_in_python_have_none() -> None:
    error = ChannelError("made in Python")
    assert (error.position, error.segment) == (None, None)
    assert error.args == ("made in Python",)
    error = ChannelError("with both", position=4, segment="x")
    assert (error.position, error.segment) == (4, "x")
    assert str(error) == "with both"
    assert ChannelError.position is None
    assert ChannelError.segment is None


# UnknownKey.kid


def test_unknown_key_carries_the_kid(secret: str) -> None:
    verifier = Verifier({"k1": secret})
    token = Signer(OTHER, kid="k2").sign("u", [], now=NOW)
    with pytest.raises(UnknownKey) as info:
        verifier.verify(token, now=NOW)
    assert info.value.kid == "k2"
    assert '"k2"' in str(info.value)


def test_unknown_key_without_a_kid_is_none(secret: str) -> None:
    verifier = Verifier({"k1": secret})
    token = Signer(secret).sign("u", [], now=NOW)
    with pytest.raises(UnknownKey) as info:
        verifier.verify(token, now=NOW)
    assert info.value.kid is None


def test_a_long_kid_is_kept_whole_but_shown_cut_short(secret: str) -> None:
    kid = "k" * 256
    token = Signer(OTHER, kid=kid).sign("u", [], now=NOW)
    with pytest.raises(UnknownKey) as info:
        Verifier({"k1": secret}).verify(token, now=NOW)
    assert info.value.kid == kid
    assert kid not in str(info.value)


def test_unknown_key_raised_in_python_has_none() -> None:
    assert UnknownKey("made in Python").kid is None
    assert UnknownKey("named", kid="k").kid == "k"
    assert UnknownKey.kid is None


def test_other_token_errors_have_no_kid(secret: str) -> None:
    with pytest.raises(MalformedToken) as info:
        Verifier(secret).verify("a.b", now=NOW)
    assert not hasattr(info.value, "kid")


# Printing, pickling, copying


def raised(secret: str) -> list[Exception]:
    errors: list[Exception] = []
    for call in (
        lambda: parse_channel("a.b*"),
        lambda: parse_channel(""),
        lambda: render_channel("chat.{roomId}", {}),
        lambda: Verifier({"k1": secret}).verify(Signer(OTHER, kid="k2").sign("u", [], now=NOW)),
        lambda: Verifier({"k1": secret}).verify(Signer(OTHER).sign("u", [], now=NOW)),
    ):
        with pytest.raises((ChannelError, UnknownKey)) as info:
            call()
        errors.append(info.value)
    return errors


def attributes(error: Exception) -> tuple[object, ...]:
    if isinstance(error, ChannelError):
        return (error.position, error.segment)
    assert isinstance(error, UnknownKey)
    return (error.kid,)


def test_str_and_args_are_the_message_alone(secret: str) -> None:
    for error in raised(secret):
        assert len(error.args) == 1
        assert str(error) == error.args[0]
        assert repr(error) == f"{type(error).__name__}({error.args[0]!r})"


def test_pickle_and_copy_keep_the_attributes(secret: str) -> None:
    made = [
        *raised(secret),
        ChannelError("m"),
        ChannelError("m", position=2, segment="s"),
        UnknownKey("m"),
        UnknownKey("m", kid="k"),
    ]
    for error in made:
        for again in (
            pickle.loads(pickle.dumps(error)),  # noqa: S301 - our own bytes
            copy.copy(error),
            copy.deepcopy(error),
        ):
            assert type(again) is type(error)
            assert again.args == error.args
            assert str(again) == str(error)
            assert attributes(again) == attributes(error)
