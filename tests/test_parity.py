"""Parity of the Rust core (`sock8`) with the pure-Python reference (`tests/_reference.py`).

Every test runs the same call on both implementations and asserts that they return the same
value, or raise the same exception class (compared with `type(exc)`, exactly). The rules both
follow are docs/spec.md.

Example budgets are written for hypothesis' default of 100 examples and scale with the
`max_examples` of the profile named by the HYPOTHESIS_PROFILE environment variable (when such a
profile is registered), else of the loaded profile. At the default the module runs in about
25 seconds on 2 cores.

`SETTLED_CASES` at the end pins the inputs on which the two once disagreed (argument types,
`None` defaults, decimal rounding), each now settled by docs/spec.md.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import math
import os
import re
import string
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import _reference as ref
import pytest
import sock8
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sock8 import errors

# --------------------------------------------------------------------------------------------
# Budgets
# --------------------------------------------------------------------------------------------


def _profile_scale() -> float:
    """`max_examples` of the requested (or loaded) profile, relative to hypothesis' 100."""
    base = settings.default
    name = os.environ.get("HYPOTHESIS_PROFILE")
    if name:
        with contextlib.suppress(InvalidArgument):
            base = settings.get_profile(name)
    return 1.0 if base is None else base.max_examples / 100


_SCALE = _profile_scale()


def budget(examples: int) -> settings:
    """Settings for a property: `examples` at the default profile, scaled by the profile."""
    return settings(
        max_examples=max(1, round(examples * _SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --------------------------------------------------------------------------------------------
# Running both implementations
# --------------------------------------------------------------------------------------------

RUST: ModuleType = sock8
REFERENCE: ModuleType = ref
Outcome = tuple[str, object]


def outcome(call: Callable[[], object]) -> Outcome:
    """`("returned", value)` or `("raised", exception class)`.

    A pyo3 `PanicException` derives from `BaseException`, so everything but an interpreter
    exit is recorded: a panic then shows up as a disagreement instead of aborting the run.
    """
    try:
        value = call()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return ("raised", type(exc))
    return ("returned", value)


def show(result: Outcome) -> str:
    """A readable outcome for assertion messages."""
    kind, value = result
    if kind == "raised" and isinstance(value, type):
        return f"raised {value.__module__}.{value.__qualname__}"
    return f"returned {value!r}"[:2000]


def same(call: Callable[[ModuleType], object]) -> Outcome:
    """Run `call` on the Rust core and on the reference; assert the same outcome; return it."""
    rust = outcome(lambda: call(RUST))
    reference = outcome(lambda: call(REFERENCE))
    assert rust == reference, f"\n  rust:      {show(rust)}\n  reference: {show(reference)}"
    return reference


def returned(result: Outcome) -> object:
    """The value of an outcome that must be a return."""
    assert result[0] == "returned", show(result)
    return result[1]


def raised(result: Outcome) -> object:
    """The exception class of an outcome that must be a raise."""
    assert result[0] == "raised", show(result)
    return result[1]


def grants_view(grants: Any) -> dict[str, object]:
    """Everything observable about a `Grants`, as plain data."""
    channels = grants.channels
    view: dict[str, object] = {
        "identity": grants.identity,
        "channels": channels,
        "channels_type": type(channels),
        "expires_at": grants.expires_at,
        "expires_at_type": type(grants.expires_at),
        "issued_at": grants.issued_at,
        "issued_at_type": type(grants.issued_at),
        "jti": grants.jti,
        "iter": list(grants),
        "allows": [grants.allows(channel) for channel in channels],
        "contains": [channel in grants for channel in channels],
        "allows_other": [
            grants.allows(other)
            for other in ("", "x", "not.granted##x", *(c + "x" for c in channels[:3]))
        ],
        "allows_non_str": outcome(lambda: grants.allows(b"x")),
    }
    if len(set(channels)) == len(channels):  # len() of duplicate grants is not specified
        view["len"] = len(grants)
    return view


def verify_view(verifier: Any, token: str | bytes, now: float) -> object:
    """`grants_view(verifier.verify(token, now=now))`."""
    return grants_view(verifier.verify(token, now=now))


# --------------------------------------------------------------------------------------------
# Tokens made by hand (valid MAC over any bytes)
# --------------------------------------------------------------------------------------------

S1 = b"parity-key-one-0123456789abcdefghijklmnopqrstuv"
S2 = "parity-key-two-\u00e9\u00e8-0123456789abcdefghijklmnop"
S3 = b"\x00\x01parity-key-three-0123456789abcdefghijklmnop\xff"
WRONG = b"parity-key-wrong-0123456789abcdefghijklmnopqrstu"
NOW = 1_700_000_000
MAX_DATE = 253_402_300_799
MAX_TTL = 31_536_000


def key_bytes(secret: str | bytes) -> bytes:
    """The HMAC key bytes of a secret."""
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def b64(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def dumps(value: object, *, ascii_only: bool = False) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only).encode("utf-8")


def craft(header: bytes, payload: bytes, secret: str | bytes) -> str:
    """A token over arbitrary header and payload bytes with a correct HS256 MAC."""
    signing_input = b64(header) + "." + b64(payload)
    mac = hmac.new(key_bytes(secret), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


HEADER = b'{"alg":"HS256","typ":"JWT"}'


def claims(**overrides: object) -> dict[str, object]:
    """Valid claims for `NOW`, with `overrides` (a value of `ABSENT` removes the claim)."""
    base: dict[str, object] = {
        "sub": "u1",
        "aud": "sock8",
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "j1",
        "channels": ["admin.logs", "chat.r%201##roomId.messages"],
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not ABSENT}


class _Absent:
    """Marks a claim or header member to leave out."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()

# --------------------------------------------------------------------------------------------
# Strategies: channel ids
# --------------------------------------------------------------------------------------------

STATIC_ALPHABET = string.ascii_letters + string.digits + "_-"
NAME_HEAD = string.ascii_letters + "_"
NAME_TAIL = string.ascii_letters + string.digits + "_"
WIRE_ALPHABET = STATIC_ALPHABET + "~.#%"
NASTY_CHARS = ".#%{}*~ ()/\\\x00\x7f\t\n\u00e9\U0001f600\u2028\ufeff"
SPECIAL_VALUES = [
    "a.b",
    "a(dot)b",
    ".",
    "#",
    "%",
    "~",
    "##",
    "%41",
    "a##b",
    " ",
    "\u00e9",
    "\U0001f600",
    "\x00",
    "-",
    "_",
    "0",
    "-5",
    "{x}",
]

nasty_chars = st.one_of(
    st.sampled_from(NASTY_CHARS),
    st.characters(codec="ascii"),
    st.characters(),
)
static_segments = st.one_of(
    st.text(STATIC_ALPHABET, min_size=1, max_size=6),
    st.text(STATIC_ALPHABET, min_size=60, max_size=64),
)
param_names = st.one_of(
    st.builds(str.__add__, st.sampled_from(NAME_HEAD), st.text(NAME_TAIL, max_size=5)),
    st.builds(
        str.__add__, st.sampled_from(NAME_HEAD), st.text(NAME_TAIL, min_size=60, max_size=63)
    ),
)


@st.composite
def valid_templates(draw: st.DrawFn) -> str:
    """Templates that follow spec §1.1."""
    count = draw(st.one_of(st.integers(1, 4), st.integers(1, 16)))
    segments: list[str] = []
    names: set[str] = set()
    for _ in range(count):
        if draw(st.booleans()):
            name = draw(param_names)
            if name not in names:
                names.add(name)
                segments.append("{" + name + "}")
                continue
        segments.append(draw(static_segments))
    return ".".join(segments)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """`base` text with one to three random edits: insert, delete, replace, duplicate."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "swapcase"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(nasty_chars) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif op == "replace":
            text = text[:pos] + draw(nasty_chars) + text[pos + 1 :]
        elif op == "duplicate":
            end = draw(st.integers(pos, len(text)))
            text = text[:end] + text[pos:end] + text[end:]
        else:
            text = text[:pos] + text[pos:].swapcase()
    return text


def template_params(template: str) -> tuple[str, ...]:
    """The `{name}` parameter names in a (possibly invalid) template, unique, in order."""
    return tuple(dict.fromkeys(re.findall(r"\{([^{}.]*)\}", template)))


any_templates = st.one_of(
    valid_templates(),
    mutated(valid_templates()),
    st.text(max_size=30),
    st.text(STATIC_ALPHABET + ".{}*#%~ ", max_size=40),
    st.sampled_from(
        [
            ".".join(["a"] * 17),
            ".".join(["a"] * 16),
            "{a}.{a}",
            "{a}.x.{a}",
            "{}",
            "{1a}",
            "{a-b}",
            "a{b}",
            "{a}b",
            "{{a}}",
            "",
            ".",
            "a.",
            "a" * 65,
            "{" + "a" * 65 + "}",
        ]
    ),
)

good_values: st.SearchStrategy[str | int] = st.one_of(
    st.text(min_size=1, max_size=10),
    st.text(WIRE_ALPHABET + "()", min_size=1, max_size=10),
    st.sampled_from(SPECIAL_VALUES),
    st.integers(),
)
int_values = st.one_of(
    st.integers(),
    st.integers(-(10**40), 10**40),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 2**64, 10**300, 10**510, 10**511, -(10**510)]),
)
invalid_values: st.SearchStrategy[object] = st.one_of(
    st.sampled_from([True, False, None, 1.0, -0.0, float("nan"), b"x", ["a"], ("a",), {"a": 1}]),
    st.floats(),
)
surrogate_values = st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud800"])
any_values: st.SearchStrategy[object] = st.one_of(
    good_values, st.just(""), int_values, invalid_values, surrogate_values
)


@st.composite
def values_for(
    draw: st.DrawFn, params: Sequence[str], values: st.SearchStrategy[object]
) -> dict[str, object]:
    """A value for every name in `params`, sometimes with one missing or one extra."""
    result = {name: draw(values) for name in params}
    if params and draw(st.integers(0, 9)) == 0:
        del result[draw(st.sampled_from(params))]
    if draw(st.integers(0, 9)) == 0:
        result[draw(st.one_of(param_names, st.text(max_size=3)))] = draw(values)
    return result


@st.composite
def valid_wire_ids(draw: st.DrawFn) -> str:
    """Wire ids rendered (by the reference) from valid templates and values."""
    template = draw(valid_templates())
    params = ref.ChannelTemplate(template).params
    values = {name: draw(good_values) for name in params}
    try:
        return ref.render_channel(template, values)
    except errors.ChannelError:
        assume(False)
        raise  # unreachable: assume(False) raises


@st.composite
def mutated_wire_ids(draw: st.DrawFn) -> str:
    """Valid wire ids broken (or not) in the ways a careless encoder would."""
    wire_id = draw(valid_wire_ids())
    op = draw(
        st.sampled_from(
            [
                "lower_hex",
                "needless_escape",
                "dup_name",
                "extra_segments",
                "oversize",
                "hashes",
                "bad_utf8",
                "edit",
            ]
        )
    )
    if op == "lower_hex":
        escapes = list(re.finditer(r"%[0-9A-F]{2}", wire_id))
        assume(escapes)
        hit = draw(st.sampled_from(escapes))
        wire_id = wire_id[: hit.start()] + hit.group().lower() + wire_id[hit.end() :]
    elif op == "needless_escape":
        spots = [m.start() for m in re.finditer(r"[A-Za-z0-9_~-](?=[^.]*##)", wire_id)]
        assume(spots)
        pos = draw(st.sampled_from(spots))
        wire_id = wire_id[:pos] + f"%{ord(wire_id[pos]):02X}" + wire_id[pos + 1 :]
    elif op == "dup_name":
        names = re.findall(r"##([A-Za-z0-9_]+)", wire_id)
        assume(len(names) >= 2)
        wire_id = wire_id.replace("##" + names[1], "##" + names[0], 1)
    elif op == "extra_segments":
        count = 17 - wire_id.count(".") - 1
        wire_id += ".s" * max(count, draw(st.integers(0, 3)))
    elif op == "oversize":
        wire_id += ("." + "x" * 64) * draw(st.integers(1, 9))
    elif op == "hashes":
        wire_id = wire_id.replace("##", draw(st.sampled_from(["#", "###", "####", "# #"])), 1)
    elif op == "bad_utf8":
        bad = draw(st.sampled_from(["%FF", "%C3", "%C0%AE", "%ED%A0%80", "%F4%90%80%80", "%E2%82"]))
        wire_id = draw(st.sampled_from(["", "a."])) + bad + "##bad." + wire_id
    else:
        wire_id = draw(mutated(st.just(wire_id)))
    return wire_id


any_wire_ids = st.one_of(
    valid_wire_ids(),
    mutated_wire_ids(),
    st.text(max_size=30),
    st.text(WIRE_ALPHABET, max_size=40),
)

# --------------------------------------------------------------------------------------------
# Channel parity
# --------------------------------------------------------------------------------------------


def template_view(template: Any) -> tuple[object, ...]:
    """Everything observable about a `ChannelTemplate`."""
    return (template.template, template.params, type(template.params))


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


NASTY_TEMPLATES = [
    "",
    "a",
    "{a}",
    "{a}.{a}",
    "{}",
    "{1}",
    "{a-b}",
    "a.{b}.c",
    "{a}{b}",
    "{{a}}",
    "a{b}",
    "{a}b",
    "{" + "a" * 64 + "}",
    "{" + "a" * 65 + "}",
    "a" * 64,
    "a" * 65,
    "*",
    "a.*",
    "a.#",
    "a#b",
    "%",
    "a b",
    "a~b",
    "\u00e9",
    "a.\ud800",
    ".".join(["a"] * 16),
    ".".join(["a"] * 17),
    ".".join(f"{{p{i}}}" for i in range(16)),
    "a.",
    ".a",
    "a..b",
    "a\n",
    "{_}",
    "{a }",
]


# The nasty templates that spec §1.1 accepts; every other one is a ChannelError.
GOOD_NASTY_TEMPLATES = {
    "a",
    "{a}",
    "a.{b}.c",
    "{" + "a" * 64 + "}",
    "a" * 64,
    ".".join(["a"] * 16),
    ".".join(f"{{p{i}}}" for i in range(16)),
    "{_}",
}


@pytest.mark.parametrize("template", NASTY_TEMPLATES)
def test_nasty_templates(template: str) -> None:
    result = same(lambda impl: template_view(impl.ChannelTemplate(template)))
    if template in GOOD_NASTY_TEMPLATES:
        returned(result)
    else:
        assert raised(result) is errors.ChannelError


NASTY_RENDERS: list[tuple[str, object]] = [
    ("c.{x}", {"x": True}),
    ("c.{x}", {"x": False}),
    ("c.{x}", {"x": 1.0}),
    ("c.{x}", {"x": None}),
    ("c.{x}", {"x": b"x"}),
    ("c.{x}", {"x": ""}),
    ("c.{x}", {"x": "\ud800"}),
    ("c.{x}", {"x": -5}),
    ("c.{x}", {"x": 0}),
    ("c.{x}", {"x": 10**506}),  # 512 bytes
    ("c.{x}", {"x": 10**507}),  # 513 bytes
    ("c.{x}", {"x": 10**5000}),  # past Python's int-to-str digit limit
    ("c.{x}", {"x": -(10**5000)}),
    ("c.{x}", {"x": "a.b"}),
    ("c.{x}", {"x": "a(dot)b"}),
    ("c.{x}", {"x": "%"}),
    ("c.{x}", {"x": "~"}),
    ("c.{x}", {"x": "\x00"}),
    ("c.{x}", {"x": "x" * 507}),  # 512 bytes
    ("c.{x}", {"x": "x" * 508}),  # 513 bytes
    ("c.{x}", {"x": "\u00e9" * 84}),
    ("c.{x}", {"x": "\u00e9" * 85}),
    ("c.{x}", {}),
    ("c.{x}", None),
    ("c.{x}", {"x": "a", "y": "b"}),
    ("c", None),
    ("c", {}),
    ("c", {"x": "a"}),
]


@pytest.mark.parametrize(("template", "values"), NASTY_RENDERS)
def test_nasty_renders(template: str, values: Mapping[str, object] | None) -> None:
    same(lambda impl: impl.render_channel(template, values))


NASTY_WIRE_IDS = [
    "",
    ".",
    "a.",
    ".a",
    "a..b",
    "a.b",
    "%41##x",
    "%2e##x",
    "%2E##x",
    "a%2E##x",
    "%C3%A9##x",
    "%c3%a9##x",
    "%C3##x",
    "%C0%AE##x",
    "%ED%A0%80##x",
    "%F4%90%80%80##x",
    "%F0%9F%98%80##x",
    "%EF%BB%BF##x",
    "%00##x",
    "a##b##c",
    "a###b",
    "###b",
    "a##",
    "##a",
    "a##1",
    "a##_",
    "a.b##a",
    "x##a.y##a",
    "x##a.y##b",
    "a" * 64,
    "a" * 65,
    "x##" + "a" * 64,
    "x##" + "a" * 65,
    ".".join(["a"] * 16),
    ".".join(["a"] * 17),
    "a" * 64 + "." + "b" * 64 + "." + "c" * 64,
    ".".join(["x" * 63] * 7) + "." + "y" * 60 + "##ab",  # 512 bytes
    ".".join(["x" * 63] * 7) + "." + "y" * 60 + "##abc",  # 513 bytes
    "a.b\n",
    "a\x00",
    "\u00e9",
    "a b",
    "a~b",
    "~##x",
    "%7E##x",
    "%20##x",
    "%2B##x",
    "%##x",
    "%4##x",
    "%GG##x",
    "a%##x",
    "a%2##x",
    "a.\ud800",
    "a*",
    "{a}",
    "%2E%2E##x",
    "-5##n",
    "\uff21##x",
]


# The nasty wire ids that spec §1.3 accepts; every other one is a ChannelError.
GOOD_NASTY_WIRE_IDS = {
    "a.b",
    "%2E##x",
    "a%2E##x",
    "%C3%A9##x",
    "%F0%9F%98%80##x",
    "%EF%BB%BF##x",
    "%00##x",
    "a##_",
    "a.b##a",
    "x##a.y##b",
    "a" * 64,
    "x##" + "a" * 64,
    ".".join(["a"] * 16),
    "a" * 64 + "." + "b" * 64 + "." + "c" * 64,
    ".".join(["x" * 63] * 7) + "." + "y" * 60 + "##ab",
    "~##x",
    "%20##x",
    "%2B##x",
    "%2E%2E##x",
    "-5##n",
}


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


# --------------------------------------------------------------------------------------------
# Keys and configuration
# --------------------------------------------------------------------------------------------

LEADS = ["", " ", "\t", "\n", "\r", "\x0c", " \r\n\t", "\ufeff", "\ufeff \ufeff", "\x0b", "\xa0"]
TRAILS = ["", " ", "\n", "\x0c", " \r\n\t", "\ufeff", "\x0b"]
KEY_MARKERS = [
    "-----BEGIN",
    "-----BEGIN PUBLIC KEY-----\n",
    "---- BEGIN SSH2 PUBLIC KEY ----\n",
    "---- BEGIN",
    "----BEGIN",
    "-----begin",
    "-----BEGI",
    "--- BEGIN",
]
SSH_WORDS = [
    "ssh-",
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-",
    "ecdsa-sha2-nistp256",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "SSH-RSA",
    "ssh",
    "ecdsa-",
    "sk-",
    "xssh-rsa",
]
WORD_GAPS = [" ", "  ", "\t", "\n", "\r\n", "\x0c", "\x0b", "\xa0", ""]


@st.composite
def der_elements(draw: st.DrawFn, tag: int, content: bytes) -> bytes:
    """`tag` and `content` as a DER element, its length sometimes not definite or minimal."""
    form = draw(st.sampled_from(["minimal"] * 4 + ["long", "padded", "indefinite", "off"]))
    size = len(content)
    if form == "minimal":
        length = bytes([size]) if size < 0x80 else _long_length(size)
    elif form == "long":
        length = b"\x81" + bytes([size]) if size < 0x100 else _long_length(size)
    elif form == "padded":
        length = (
            b"\x82\x00" + bytes([size & 0xFF]) if size < 0x100 else b"\x83\x00" + size.to_bytes(2)
        )
    elif form == "indefinite":
        length = b"\x80"
    else:
        wrong = max(0, size + draw(st.sampled_from([-1, 1])))
        length = bytes([wrong]) if wrong < 0x80 else _long_length(wrong)
    return bytes([tag]) + length + content


def _long_length(size: int) -> bytes:
    """The minimal long-form DER length of `size` (>= 0x80)."""
    octets = size.to_bytes((size.bit_length() + 7) // 8)
    return bytes([0x80 | len(octets)]) + octets


@st.composite
def der_like_secrets(draw: st.DrawFn) -> bytes:
    """Byte strings at and around the DER rule of spec §2."""
    inner_tag = draw(st.sampled_from([0x02, 0x30, 0x06, 0x04, 0xA0, 0x03]))
    inner_content = draw(st.binary(max_size=40))
    if inner_tag == 0x30:
        first = draw(st.sampled_from([b"\x02", b"\x06", b"\xa0", b"\x04", b"\x30", b""]))
        inner_content = first + inner_content
    inner = draw(der_elements(inner_tag, inner_content))
    body = inner + draw(st.one_of(st.just(b""), st.binary(max_size=200)))
    outer = draw(der_elements(draw(st.sampled_from([0x30] * 5 + [0x31, 0x10])), body))
    outer += draw(st.sampled_from([b""] * 4 + [b"\x00", b"\n"]))
    padding = b"\x05\x00" * max(0, (32 - len(outer) + 1) // 2)
    if len(outer) < 32:  # keep the length rule out of the way: pad inside the outer SEQUENCE
        outer = draw(der_elements(0x30, body + padding))
    return outer


@st.composite
def key_like_secrets(draw: st.DrawFn) -> str | bytes:
    """Secrets at and around the key-document rules of spec §2."""
    kind = draw(st.sampled_from(["pem", "ssh", "words", "json", "not_json", "der"]))
    if kind == "der":
        return draw(der_like_secrets())
    lead = draw(st.sampled_from(LEADS))
    trail = draw(st.sampled_from(TRAILS))
    filler = draw(st.text(string.ascii_letters + string.digits + "+/=", min_size=0, max_size=40))
    if kind == "pem":
        text = draw(st.text(max_size=6)) + draw(st.sampled_from(KEY_MARKERS)) + filler
    elif kind == "ssh":
        text = lead + draw(st.sampled_from(SSH_WORDS)) + filler
    elif kind == "words":
        words = [
            draw(st.sampled_from(['from="x"', "host,1.2.3.4", "@cert-authority", "x"])),
            draw(st.sampled_from(SSH_WORDS)),
            draw(st.sampled_from(["AAAA", "AAAAC3NzaC1lZDI1NTE5", "AAA", "aaaa", "BAAA", ""])),
            filler,
        ]
        gaps = [draw(st.sampled_from(WORD_GAPS)) for _ in words]
        text = lead + "".join(gap + word for gap, word in zip(gaps, words, strict=True)) + trail
    elif kind == "json":
        members = draw(
            st.dictionaries(
                st.text(string.ascii_letters, max_size=4),
                st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none()),
                max_size=3,
            )
        )
        members["k"] = filler
        document: object = members
        if draw(st.booleans()):
            document = draw(st.sampled_from([[members], {"keys": [members]}, [1, members]]))
        text = lead + json.dumps(document, ensure_ascii=draw(st.booleans())) + trail
    else:
        text = (
            lead
            + draw(st.sampled_from(["{", "[", "{x", "{{", "[[", "[{"]))
            + filler
            + draw(st.sampled_from(["}", "]", "}x", "", "}}", "]]", "}]"]))
            + trail
        )
    if draw(st.booleans()):
        return text.encode("utf-8")
    return text


any_secrets: st.SearchStrategy[str | bytes] = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=40),
    key_like_secrets(),
)


@budget(400)
@given(secret=any_secrets)
def test_secret_parity(secret: str | bytes) -> None:
    same(lambda impl: impl.Signer(secret).kid)
    same(lambda impl: impl.Verifier(secret).kids)


ED25519_SPKI = bytes.fromhex("302a300506032b6570032100") + bytes(range(32))
P256_SPKI = (
    bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
    + b"\x04"
    + bytes(range(64))
)
ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420") + bytes(range(32))
RSA_PKCS1_PUBLIC = bytes.fromhex("3082010a0282010100") + b"\xc3" * 256 + bytes.fromhex("0203010001")

NASTY_SECRETS: list[object] = [
    b"x" * 31,
    b"x" * 32,
    "x" * 31,
    "\u00e9" * 16,
    "\u00e9" * 15 + "x",
    "\ud800" * 32,
    b"-----BEGIN" + b"x" * 30,
    b"\n\t -----BEGIN PUBLIC KEY-----" + b"x" * 30,
    b"\xef\xbb\xbf-----BEGIN" + b"x" * 30,
    b"\x0c-----BEGIN" + b"x" * 30,
    b"x-----BEGIN" + b"x" * 30,
    b"Public-Key: (256 bit)\n-----BEGIN PUBLIC KEY-----\nMFkw",
    b"---- BEGIN SSH2 PUBLIC KEY ----\nComment: x\nAAAAB3NzaC1yc2E",
    b"x" * 40 + b"---- BEGIN",
    b"x" * 40 + b"----BEGIN",
    b"ssh-rsa " + b"A" * 40,
    b"\xef\xbb\xbf\xef\xbb\xbf \xef\xbb\xbfssh-rsa " + b"A" * 40,
    b"\x0bssh-rsa " + b"A" * 40,
    b"\xc2\xa0ssh-rsa " + b"A" * 40,
    b"sk-ssh-ed25519@openssh.com " + b"A" * 40,
    b"sk-ecdsa-sha2-nistp256@openssh.com " + b"A" * 40,
    b"ecdsa-sha2-nistp256 " + b"A" * 40,
    b"SSH-RSA " + b"A" * 40,
    b'from="10.0.0.1",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI',
    b"host.example,10.0.0.1 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTI",
    b"host.example,10.0.0.1 ecdsa-sha2-nistp256 AAAbE2VjZHNhLXNoYTI",
    b"host.example,10.0.0.1 ecdsa-sha2-nistp256\x0bAAAAE2VjZHNhLXNoYTI",
    b"host.example,10.0.0.1 ecdsa-sha2-nistp256\x0cAAAAE2VjZHNhLXNoYTI",
    b"host.example,10.0.0.1 ssh-rsa x AAAAE2VjZHNhLXNoYTIxxxxxxxxxxxx",
    b"x" * 30 + b" ssh-rsa AAAA",
    b"x" * 30 + b" ssh-rsa AAAA\xff",
    b'{"kty":"oct","k":"' + b"A" * 40 + b'"}',
    b'  {"kty":"oct","k":"' + b"A" * 40 + b'"}\r\n',
    b'\x0c{"kty":"oct","k":"' + b"A" * 40 + b'"}\x0c',
    b'\xef\xbb\xbf{"kty":"oct","k":"' + b"A" * 40 + b'"}',
    b'{"kty":"oct","k":"' + b"A" * 40 + b'"}\xef\xbb\xbf',
    b'\x0b{"kty":"oct","k":"' + b"A" * 40 + b'"}',
    b'{"kty":"oct","k":"' + b"A" * 40 + b'"}x',
    b'[{"kty":"oct","k":"' + b"A" * 40 + b'"}]',
    b'{"keys":[{"kty":"oct","k":"' + b"A" * 40 + b'"}]}',
    b"[" + b"1," * 20 + b"1]",
    b"[" + b"A" * 40 + b"]",
    b'{"kty":"oct","k":"' + b"A" * 40 + b'"',
    b"{" + b"A" * 40 + b"}",
    b'{"k":"' + b"A" * 30 + b'","n":NaN}',
    b'{"k":"' + b"A" * 30 + b'\xff"}',
    b'{"k":"' + b"A" * 30 + b'","e":{"x":[1,2,{}]}}',
    b'{"k":"' + b"A" * 30 + b'","k":1}',
    b'{"k":"' + b"A" * 30 + b'\\ud800"}',
    b'{"k":"' + b"A" * 30 + b'","n":1e400}',
    b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",
    b"[" * 64 + b"]" * 64,
    ED25519_SPKI,
    P256_SPKI,
    ED25519_PKCS8,
    RSA_PKCS1_PUBLIC,
    ED25519_SPKI + b"\x00",
    ED25519_SPKI[:-1],
    b"\x30\x80" + ED25519_SPKI[2:],
    b"\x30\x81\x2a" + ED25519_SPKI[2:],
    b"\x31" + ED25519_SPKI[1:],
    b"\x30\x2a\x04" + ED25519_SPKI[3:],
    b"\x30\x2a\x30\x05\x04" + ED25519_SPKI[5:],
    b"\x30\x2a\x30\x2a\x06" + ED25519_SPKI[5:],
    b"\x00" * 32,
    b"\xff" * 32,
    bytearray(b"x" * 40),
    memoryview(b"x" * 40),
    5,
    None,
    ["x" * 40],
]


@pytest.mark.parametrize("secret", NASTY_SECRETS, ids=lambda s: ascii(s)[:40])
def test_nasty_secrets(secret: object) -> None:
    same(lambda impl: impl.Signer(secret).kid)
    same(lambda impl: impl.Verifier(secret).kids)


VERIFIER_OPTIONS: list[dict[str, object]] = [
    {},
    {"leeway": 0},
    {"leeway": 0.0},
    {"leeway": -0.0},
    {"leeway": 0.5},
    {"leeway": 86400},
    {"leeway": 86400.0},
    {"leeway": 86400.000001},
    {"leeway": -1},
    {"leeway": -1e-300},
    {"leeway": float("nan")},
    {"leeway": float("inf")},
    {"max_token_bytes": 0},
    {"max_token_bytes": 1},
    {"max_token_bytes": 524288},
    {"max_token_bytes": 524289},
    {"max_token_bytes": -1},
    {"max_depth": 1},
    {"max_depth": 2},
    {"max_depth": 8},
    {"max_depth": 9},
    {"max_depth": 2**64},
    {"max_channels": -1},
    {"max_channels": 0},
    {"max_channels": 10000},
    {"max_channels": 10001},
    {"audience": None},
    {"audience": ""},
    {"audience": "x"},
    {"audience": "\u00e9"},
    {"issuer": None},
    {"issuer": ""},
    {"issuer": "me"},
]


def verifier_config_view(verifier: Any) -> tuple[object, ...]:
    """The observable configuration of a `Verifier`."""
    return (
        verifier.audience,
        verifier.issuer,
        verifier.leeway,
        type(verifier.leeway),
        sorted(verifier.kids, key=repr),
    )


@pytest.mark.parametrize("options", VERIFIER_OPTIONS, ids=repr)
def test_verifier_options(options: dict[str, object]) -> None:
    same(lambda impl: verifier_config_view(impl.Verifier(S1, **options)))


KEY_RINGS: list[object] = [
    {"k1": S1, "k2": S2, None: S3},
    {"k1": S1},
    {None: S1},
    {},
    {"k1": b"short"},
    {"k1": S1, "k2": b"-----BEGIN" + b"x" * 40},
]


@pytest.mark.parametrize("ring", KEY_RINGS, ids=repr)
def test_key_rings(ring: object) -> None:
    same(lambda impl: verifier_config_view(impl.Verifier(ring)))


SIGNER_OPTIONS: list[dict[str, object]] = [
    {},
    {"kid": "k1"},
    {"kid": None},
    {"audience": None},
    {"audience": "aud"},
    {"issuer": "iss"},
    {"ttl": 1},
    {"ttl": MAX_TTL},
    {"ttl": 0},
    {"ttl": -1},
    {"ttl": MAX_TTL + 1},
    {"ttl": 2**63},
    {"ttl": 2**64 + 60},
]


def signer_config_view(signer: Any) -> tuple[object, ...]:
    """The observable configuration of a `Signer`."""
    return (signer.kid, signer.audience, signer.issuer, signer.ttl)


@pytest.mark.parametrize("options", SIGNER_OPTIONS, ids=repr)
def test_signer_options(options: dict[str, object]) -> None:
    same(lambda impl: signer_config_view(impl.Signer(S1, **options)))


def test_constants() -> None:
    core = sock8._core
    assert (
        core.MAX_WIRE_ID_BYTES,
        core.MAX_SEGMENTS,
        core.MAX_TOKEN_BYTES,
        core.MAX_JSON_DEPTH,
        core.MAX_CHANNELS,
        core.MIN_SECRET_BYTES,
        core.MAX_PAYLOAD_DEPTH,
    ) == (
        ref.MAX_WIRE_ID_BYTES,
        ref.MAX_SEGMENTS,
        ref.MAX_TOKEN_BYTES,
        ref.MAX_JSON_DEPTH,
        ref.MAX_CHANNELS,
        ref.MIN_SECRET_BYTES,
        ref.MAX_PAYLOAD_DEPTH,
    )


# --------------------------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------------------------

identities = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(['"', "\\", "\x1f", "\x7f", "\u2028", "\x00", "\b\f\n\r\t", "</script>"]),
)
jtis = st.one_of(st.text(min_size=1, max_size=24), st.text(string.printable, min_size=1))
names = st.one_of(st.sampled_from(["k1", "k2", "sock8", "a b"]), st.text(min_size=1, max_size=8))


def _accepted_secret(secret: str | bytes) -> bool:
    """Whether the reference takes `secret` as a key."""
    return outcome(lambda: ref.Signer(secret))[0] == "returned"


KNOWN_SECRETS: list[str | bytes] = [S1, S2, S3]
good_secrets: st.SearchStrategy[str | bytes] = st.one_of(
    st.sampled_from(KNOWN_SECRETS),
    st.binary(min_size=32, max_size=48),
    st.text(min_size=32, max_size=36),
).filter(_accepted_secret)


@dataclasses.dataclass
class SignCase:
    """Everything `Signer(...).sign(...)` takes, with at most one broken argument."""

    secret: str | bytes
    kid: str | None
    audience: str | None
    issuer: str | None
    signer_ttl: int
    identity: str
    channels: list[str]
    now: float
    ttl: int | None
    jti: str
    fault: str | None

    def signer(self, impl: ModuleType) -> Any:
        """The case's signer on `impl`."""
        return impl.Signer(
            self.secret,
            kid=self.kid,
            audience=self.audience,
            issuer=self.issuer,
            ttl=self.signer_ttl,
        )

    def sign(self, impl: ModuleType) -> str:
        """The case's token on `impl`; channels go in as a one-shot iterator."""
        token: str = self.signer(impl).sign(
            self.identity, iter(list(self.channels)), now=self.now, ttl=self.ttl, jti=self.jti
        )
        return token

    @property
    def iat(self) -> int:
        """The `iat` of a valid case."""
        return math.floor(self.now)

    @property
    def lifetime(self) -> int:
        """The lifetime of a valid case."""
        return self.signer_ttl if self.ttl is None else self.ttl


@st.composite
def sign_cases(draw: st.DrawFn, *, faults: bool = True) -> SignCase:
    """Sign arguments; with `faults`, sometimes exactly one of them is broken."""
    fault = draw(st.sampled_from([None, None, None, "identity", "channels", "now", "ttl"]))
    if not faults:
        fault = None
    signer_ttl = draw(st.one_of(st.just(3600), st.integers(1, MAX_TTL)))
    ttl = draw(st.one_of(st.none(), st.integers(1, MAX_TTL), st.sampled_from([1, 60, MAX_TTL])))
    lifetime = signer_ttl if ttl is None else ttl
    now: float = draw(
        st.one_of(
            st.integers(NOW - 10, NOW + 10),
            st.floats(NOW - 10, NOW + 10),
            st.integers(0, MAX_DATE - lifetime),
            st.floats(0, MAX_DATE - lifetime),
            st.sampled_from([0, 0.0, -0.0, 0.999, MAX_DATE - lifetime, MAX_DATE - lifetime + 0.9]),
        )
    )
    identity = draw(identities)
    channels = draw(st.lists(valid_wire_ids(), max_size=5))
    duplicate = draw(st.booleans())
    if channels and duplicate:
        channels.append(draw(st.sampled_from(channels)))
    if fault == "identity":
        identity = ""
    elif fault == "channels":
        bad = draw(
            st.one_of(mutated_wire_ids(), st.text(max_size=8)).filter(
                lambda c: outcome(lambda: ref.parse_channel(c))[0] == "raised"
            )
        )
        channels.insert(draw(st.integers(0, len(channels))), bad)
    elif fault == "now":
        now = draw(
            st.sampled_from(
                [
                    -1,
                    -0.5,
                    -1e-300,
                    MAX_DATE - lifetime + 1,
                    MAX_DATE + 1,
                    1e20,
                    -1e20,
                    float("nan"),
                    float("inf"),
                    float("-inf"),
                ]
            )
        )
    elif fault == "ttl":
        ttl = draw(st.sampled_from([0, -1, -MAX_TTL, MAX_TTL + 1, 2**31]))
    return SignCase(
        secret=draw(good_secrets),
        kid=draw(st.one_of(st.none(), names)),
        audience=draw(st.one_of(st.just("sock8"), st.none(), names)),
        issuer=draw(st.one_of(st.none(), names)),
        signer_ttl=signer_ttl,
        identity=identity,
        channels=channels,
        now=now,
        ttl=ttl,
        jti=draw(jtis),
        fault=fault,
    )


@budget(300)
@given(case=sign_cases())
def test_sign_parity(case: SignCase) -> None:
    result = same(case.sign)
    if case.fault is None:
        returned(result)
    else:
        raised(result)


def test_default_jti_is_128_random_bits() -> None:
    for impl in (RUST, REFERENCE):
        signer = impl.Signer(S1)
        jti_values = set()
        for _ in range(3):
            token = signer.sign("u", [], now=NOW)
            payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
            jti = payload["jti"]
            assert isinstance(jti, str), impl.__name__
            assert len(jti) == 22, impl.__name__
            assert len(ref.b64url_decode(jti.encode("ascii"))) == 16, impl.__name__
            jti_values.add(jti)
        assert len(jti_values) == 3, impl.__name__


def test_default_now_is_the_clock() -> None:
    for impl in (RUST, REFERENCE):
        before = math.floor(time.time())
        token = impl.Signer(S1).sign("u", [], jti="j")
        after = math.floor(time.time())
        grants = ref.Verifier(S1, leeway=5).verify(token, now=after)
        assert before <= grants.issued_at <= after, impl.__name__
        assert grants.expires_at == grants.issued_at + 3600, impl.__name__


def _many_ids(count: int, width: int) -> list[str]:
    """`count` distinct valid wire ids of about `width` bytes each."""
    pad = "p" * max(1, min(64, width - 16))
    segments = max(1, min(15, width // (len(pad) + 1)))
    return [f"c{i}" + f".{pad}" * segments for i in range(count)]


SIGN_EDGES: list[tuple[str, dict[str, object]]] = [
    ("identity-empty", {"identity": ""}),
    ("channels-10000", {"channels": _many_ids(10_000, 8)}),
    ("channels-10001", {"channels": _many_ids(10_001, 8)}),
    ("channels-bad", {"channels": ["a..b"]}),
    ("channels-oversized-token", {"channels": _many_ids(1_200, 500)}),
    ("now-0", {"now": 0}),
    ("now-neg", {"now": -1}),
    ("now-neg-tiny", {"now": -1e-300}),
    ("now-last", {"now": MAX_DATE - 3600}),
    ("now-last-frac", {"now": MAX_DATE - 3600 + 0.999}),
    ("now-past-last", {"now": MAX_DATE - 3599}),
    ("now-nan", {"now": float("nan")}),
    ("now-inf", {"now": float("inf")}),
    ("now-1e300", {"now": 1e300}),
    ("ttl-0", {"ttl": 0}),
    ("ttl-max", {"ttl": MAX_TTL}),
    ("ttl-over", {"ttl": MAX_TTL + 1}),
]


@pytest.mark.parametrize(("name", "overrides"), SIGN_EDGES, ids=[n for n, _ in SIGN_EDGES])
def test_sign_edges(name: str, overrides: dict[str, object]) -> None:
    del name
    arguments: dict[str, object] = {"identity": "u1", "channels": ["a.b"], "now": NOW, "jti": "j"}
    arguments.update(overrides)

    def sign(impl: ModuleType) -> object:
        identity = arguments.pop("identity")
        channels = arguments.pop("channels")
        try:
            return impl.Signer(S1).sign(identity, channels, **arguments)
        finally:
            arguments["identity"], arguments["channels"] = identity, channels

    same(sign)


SIGN_TYPE_EDGES: list[tuple[str, dict[str, object]]] = [
    ("now-huge-int", {"now": 10**30}),
    ("ttl-huge-int", {"ttl": 2**64}),
]


@pytest.mark.parametrize(
    ("name", "overrides"), SIGN_TYPE_EDGES, ids=[n for n, _ in SIGN_TYPE_EDGES]
)
def test_sign_type_edges(name: str, overrides: dict[str, object]) -> None:
    del name
    same(lambda impl: impl.Signer(S1).sign("u1", ["a.b"], jti="j", **{"now": NOW, **overrides}))


# --------------------------------------------------------------------------------------------
# Verifying signed tokens
# --------------------------------------------------------------------------------------------

leeways = st.one_of(st.sampled_from([0, 0.5, 1, 30, 86400]), st.floats(0, 86400))


@st.composite
def verify_nows(draw: st.DrawFn, iat: int, exp: int, leeway: float) -> float:
    """Instants around the boundaries of steps 12-14 for a token with `iat` and `exp`."""
    anchor = draw(st.sampled_from([iat, exp, iat - leeway, exp + leeway, (iat + exp) / 2]))
    nudge = draw(st.sampled_from([0.0, 1.0, -1.0, 0.5, -0.5, 1e-6, -1e-6]))
    direction = draw(st.sampled_from([math.inf, -math.inf]))
    now = anchor + nudge
    if draw(st.booleans()):
        now = math.nextafter(now, direction)
    if draw(st.integers(0, 4)) == 0:
        now = draw(st.floats(iat - 2.0 * (exp - iat) - leeway, exp + leeway + 10.0))
    return now


@budget(250)
@given(case=sign_cases(faults=False), leeway=leeways, data=st.data())
def test_signed_tokens_verify_alike(case: SignCase, leeway: float, data: st.DataObject) -> None:
    token = returned(same(case.sign))
    assert isinstance(token, str)
    now = data.draw(verify_nows(case.iat, case.iat + case.lifetime, leeway), label="now")
    audience = data.draw(st.sampled_from([case.audience, None, "sock8", "other"]), label="aud")
    issuer = data.draw(st.sampled_from([None, case.issuer, "other"]), label="iss")
    form: str | bytes = token.encode("ascii") if data.draw(st.booleans()) else token
    verifier_secret: object = case.secret
    if case.kid is not None:
        verifier_secret = {case.kid: case.secret, None: WRONG}
    same(
        lambda impl: verify_view(
            impl.Verifier(verifier_secret, audience=audience, issuer=issuer, leeway=leeway),
            form,
            now,
        )
    )


@budget(100)
@given(case=sign_cases(faults=False))
def test_signed_tokens_are_accepted(case: SignCase) -> None:
    """Both verifiers accept a fresh token and report exactly what was signed."""
    token = returned(same(case.sign))
    ring = {case.kid: case.secret}
    now = case.iat
    for impl in (RUST, REFERENCE):
        verifier = impl.Verifier(ring, audience=case.audience, issuer=case.issuer)
        grants = verifier.verify(token, now=now)
        assert grants.identity == case.identity
        assert grants.channels == tuple(sorted(set(case.channels)))
        assert grants.issued_at == case.iat
        assert grants.expires_at == case.iat + case.lifetime
        assert grants.jti == case.jti
        assert all(grants.allows(channel) for channel in case.channels)


B64_CHARS = string.ascii_letters + string.digits + "-_"
B64URL_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


@st.composite
def mutated_tokens(draw: st.DrawFn, token: str) -> str | bytes:
    """A token tampered with, truncated or re-encoded."""
    segments = token.split(".")
    index = draw(st.integers(0, 2))
    segment = segments[index]
    op = draw(
        st.sampled_from(
            [
                "flip",
                "truncate",
                "pad",
                "standard_alphabet",
                "trailing_bits",
                "extra_segment",
                "drop_segment",
                "swap",
                "whitespace",
                "bytes",
                "edit",
            ]
        )
    )
    if op == "flip" and segment:
        pos = draw(st.integers(0, len(segment) - 1))
        char = draw(
            st.sampled_from(B64_CHARS + "=+/ .\x00\u00e9").filter(lambda c: c != segment[pos])
        )
        segments[index] = segment[:pos] + char + segment[pos + 1 :]
    elif op == "truncate":
        return token[: draw(st.integers(0, len(token) - 1))]
    elif op == "pad":
        segments[index] = segment + "=" * draw(st.integers(1, 3))
    elif op == "standard_alphabet":
        assume("-" in token or "_" in token)
        return token.replace("-", "+").replace("_", "/")
    elif op == "trailing_bits":
        unused = {2: 4, 3: 2}.get(len(segment) % 4)
        assume(unused is not None and segment)
        assert unused is not None
        value = B64URL_ALPHABET.index(segment[-1])
        value |= draw(st.integers(1, (1 << unused) - 1))
        segments[index] = segment[:-1] + B64URL_ALPHABET[value]
    elif op == "extra_segment":
        segments.insert(draw(st.integers(0, 3)), draw(st.sampled_from(["", "e30", segment])))
    elif op == "drop_segment":
        del segments[index]
    elif op == "swap":
        segments[0], segments[1] = segments[1], segments[0]
    elif op == "whitespace":
        space = draw(st.sampled_from([" ", "\n", "\t", "\r\n"]))
        return draw(st.sampled_from([space + token, token + space]))
    elif op == "bytes":
        data = token.encode("ascii")
        pos = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\xff", b"\x80", b"\xc3\xa9", b"\x00", b"."]))
        return data[:pos] + junk + data[pos:]
    else:
        return draw(mutated(st.just(token)))
    return ".".join(segments)


@budget(300)
@given(case=sign_cases(faults=False), data=st.data())
def test_mutated_tokens_parity(case: SignCase, data: st.DataObject) -> None:
    token = returned(same(case.sign))
    assert isinstance(token, str)
    broken = data.draw(mutated_tokens(token), label="token")
    ring = {case.kid: case.secret}
    same(lambda impl: verify_view(impl.Verifier(ring, audience=case.audience), broken, case.iat))


random_tokens: st.SearchStrategy[str | bytes] = st.one_of(
    st.binary(max_size=120),
    st.text(max_size=120),
    st.text(B64_CHARS + ".", max_size=120),
    st.builds(
        lambda a, b, c: f"{a}.{b}.{c}",
        st.text(B64_CHARS, max_size=40),
        st.text(B64_CHARS, max_size=40),
        st.text(B64_CHARS, max_size=44),
    ),
    st.builds(
        lambda header, payload, mac: f"{b64(header)}.{b64(payload)}.{b64(mac)}",
        st.sampled_from([HEADER, b'{"alg":"HS256"}', b"{}", b"[]", b""]),
        st.binary(max_size=40),
        st.binary(min_size=30, max_size=34),
    ),
)


@budget(300)
@given(token=random_tokens)
def test_random_tokens_parity(token: str | bytes) -> None:
    same(lambda impl: verify_view(impl.Verifier(S1), token, NOW))


@pytest.mark.parametrize(
    "token", [5, None, bytearray(b"a.b.c"), memoryview(b"a.b.c"), ["a.b.c"], 1.5]
)
def test_verify_non_token_types(token: object) -> None:
    assert raised(same(lambda impl: impl.Verifier(S1).verify(token, now=NOW))) is TypeError


# --------------------------------------------------------------------------------------------
# Crafted tokens: valid MAC, hand-made header and payload
# --------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)


def json_containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Arrays and objects of `inner` values."""
    return st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    )


json_values: st.SearchStrategy[object] = st.recursive(json_scalars, json_containers, max_leaves=8)
time_values: st.SearchStrategy[object] = st.one_of(
    st.integers(NOW - 100, NOW + 100),
    st.floats(NOW - 100, NOW + 100),
    st.integers(0, MAX_DATE),
    st.floats(0, MAX_DATE),
    st.sampled_from(
        [
            0,
            0.0,
            -0.0,
            -1,
            -0.5,
            -1e-300,
            MAX_DATE,
            MAX_DATE + 1,
            MAX_DATE + 0.5,
            float(MAX_DATE),
            1e20,
            10**30,
            NOW + 0.5,
            str(NOW),
            True,
            False,
            None,
            [],
            {},
            [NOW],
        ]
    ),
)


@st.composite
def claim_value(
    draw: st.DrawFn, good: st.SearchStrategy[object], bad: st.SearchStrategy[object]
) -> object:
    """Mostly `good`, sometimes `bad`, some other JSON value, or `ABSENT`."""
    pick = draw(st.integers(0, 19))
    if pick < 15:
        return draw(good)
    if pick < 17:
        return draw(bad)
    if pick < 19:
        return draw(json_values)
    return ABSENT


@st.composite
def crafted_claims(draw: st.DrawFn) -> dict[str, object]:
    """A payload object whose claims are each right, wrong, odd or missing."""
    wire_id_lists = st.lists(valid_wire_ids(), max_size=4)
    bad_channels = st.one_of(
        st.lists(
            st.one_of(valid_wire_ids(), mutated_wire_ids(), json_scalars), min_size=1, max_size=3
        ),
        st.text(max_size=5),
        st.just({}),
    )
    members: dict[str, object] = {
        "sub": draw(claim_value(st.text(min_size=1, max_size=8), st.sampled_from(["", 5, None]))),
        "aud": draw(
            claim_value(
                st.sampled_from(["sock8", ["sock8"], ["x", "sock8"], ["sock8", "sock8"]]),
                st.sampled_from([[], "x", ["x"], ["sock8", 1], [None], "SOCK8", None]),
            )
        ),
        "iss": draw(st.sampled_from([ABSENT, ABSENT, "issuer", "other", None, 5, ["issuer"]])),
        "iat": draw(claim_value(time_values, time_values)),
        "exp": draw(claim_value(time_values, time_values)),
        "nbf": draw(st.one_of(st.just(ABSENT), st.just(ABSENT), time_values)),
        "jti": draw(claim_value(st.text(max_size=8), st.sampled_from([None, 5, [], True]))),
        "channels": draw(claim_value(wire_id_lists, bad_channels)),
    }
    extras = draw(st.dictionaries(st.text(max_size=4), json_values, max_size=2))
    for name, value in extras.items():
        members.setdefault(name, value)
    order = draw(st.permutations(list(members)))
    return {name: members[name] for name in order if members[name] is not ABSENT}


@dataclasses.dataclass
class VerifierCase:
    """Verifier arguments."""

    ring: object
    audience: str | None
    issuer: str | None
    leeway: float
    max_token_bytes: int
    max_depth: int
    max_channels: int

    def build(self, impl: ModuleType) -> Any:
        """The verifier on `impl`."""
        return impl.Verifier(
            self.ring,
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            max_token_bytes=self.max_token_bytes,
            max_depth=self.max_depth,
            max_channels=self.max_channels,
        )


verifier_cases = st.builds(
    VerifierCase,
    ring=st.sampled_from([S1, {None: S1}, {"k1": S1, "k2": S2, None: S3}]),
    audience=st.sampled_from(["sock8", "sock8", None, "x"]),
    issuer=st.sampled_from([None, None, "issuer"]),
    leeway=st.sampled_from([0, 0, 1, 30.5]),
    max_token_bytes=st.sampled_from([524288, 524288, 200, 1]),
    max_depth=st.sampled_from([8, 8, 2, 3, 4]),
    max_channels=st.sampled_from([10000, 10000, 0, 1, 2, 3]),
)
crafted_nows = st.one_of(
    st.integers(NOW - 150, NOW + 150),
    st.floats(NOW - 150, NOW + 150),
    st.sampled_from([0, 0.0, NOW, float(MAX_DATE)]),
)


@budget(400)
@given(
    payload=crafted_claims(),
    config=verifier_cases,
    now=crafted_nows,
    ascii_only=st.booleans(),
)
def test_crafted_claims_parity(
    payload: dict[str, object], config: VerifierCase, now: float, ascii_only: bool
) -> None:
    token = craft(HEADER, dumps(payload, ascii_only=ascii_only), S1)
    same(lambda impl: verify_view(config.build(impl), token, now))


@st.composite
def crafted_headers(draw: st.DrawFn) -> dict[str, object]:
    """A header with right, wrong or odd `alg`, `kid`, `crit`, `typ` and other members."""
    members: dict[str, object] = {
        "alg": draw(
            st.sampled_from(
                ["HS256"] * 6
                + ["none", "hs256", "HS512", "RS256", "HS256 ", "", None, 256, ["HS256"], ABSENT]
            )
        ),
        "kid": draw(
            st.sampled_from(
                [ABSENT] * 4 + ["k1", "k1", "k2", "k3", "", 5, None, ["k1"], {"k": 1}, True]
            )
        ),
        "crit": draw(st.sampled_from([ABSENT] * 8 + [[], ["exp"], "x", None])),
        "typ": draw(st.sampled_from([ABSENT, "JWT", "JWT", "jwt", 5])),
        "jwk": draw(st.sampled_from([ABSENT] * 4 + [{"kty": "oct", "k": "AAAA"}])),
        "x5u": draw(st.sampled_from([ABSENT] * 4 + ["https://example.invalid/x"])),
    }
    order = draw(st.permutations(list(members)))
    return {name: members[name] for name in order if members[name] is not ABSENT}


@budget(300)
@given(
    header=crafted_headers(),
    key=st.sampled_from([S1, S2, S3, WRONG]),
    ring=st.sampled_from(
        [{"k1": S1, "k2": S2, None: S3}, {"k1": S1, "k2": S2}, S3, {None: S1}, {"k3": S2}]
    ),
)
def test_crafted_headers_parity(header: dict[str, object], key: bytes | str, ring: object) -> None:
    token = craft(dumps(header), dumps(claims()), key)
    same(lambda impl: verify_view(impl.Verifier(ring), token, NOW))


def _nest(depth: int, kind: str) -> bytes:
    """A JSON value nested `depth` containers deep."""
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth if depth else b"1"


RAW_MEMBERS: list[bytes] = [
    b'"sub":"dup",',
    b'"\\u0073ub":"dup",',
    b'"x":"\\ud800",',
    b'"x":"\\udc00\\ud800",',
    b'"x":"\\ud83d\\ude00",',
    b'"x":"\\uD83D\\uDE00",',
    b'"x":"\\ud83d",',
    b'"x":"\\ude00x",',
    b'"\\ud800":1,',
    b'"x":1e400,',
    b'"x":-1e400,',
    b'"x":1e-400,',
    b'"x":1.7976931348623157e308,',
    b'"x":1.7976931348623159e308,',
    b'"x":' + b"9" * 308 + b",",
    b'"x":' + b"9" * 309 + b",",
    b'"x":' + b"9" * 400 + b",",
    b'"x":-' + b"9" * 400 + b",",
    b'"x":0.' + b"0" * 400 + b"1,",
    b'"x":NaN,',
    b'"x":Infinity,',
    b'"x":-Infinity,',
    b'"x":-0,',
    b'"x":-0.0,',
    b'"x":1E2,',
    b'"x":1e+2,',
    b'"x":01,',
    b'"x":1.,',
    b'"x":.5,',
    b'"x":+1,',
    b'"x":0x1,',
    b'"x":1_0,',
    b'"x":"\x01",',
    b'"x":"\x1f",',
    b'"x":"\x7f",',
    b'"x":"\xff",',
    b'"x":"\xc0\xaf",',
    b'"x":"\xed\xa0\x80",',
    b'"x":"\xf4\x90\x80\x80",',
    b'"x":"\xef\xbb\xbf",',
    b'"x":"\\x41",',
    b'"x":"\\u00e9",',
    b'"x":"\\u00E9",',
    b'"x":"\\u00",',
    b'"x":"\\/",',
    b'"x":"\\\'",',
    b"'x':1,",
    b'"x":tru,',
    b'"x":true,',
    b'"x":True,',
    b'"x":null,',
    b' "x" : [ 1 , 2 ] ,',
    b'"x":[1,],',
    b'"x":[,1],',
    b'"x":{"y":1,"y":2},',
    b'"x":[{"y":1,"\\u0079":2}],',
    b'"x":{"y":{"z":1,"z":1}},',
    b"\t\n\r ",
    b"\x0c",
    b"\xc2\xa0",
    b"\xe2\x80\xa8",
    b'"x":1,,',
    b'"x" 1,',
    b"x:1,",
    b'"x":"a\nb",',
    b'"x":"a\\nb",',
]
RAW_MEMBERS += [b'"x":' + _nest(depth, "array") + b"," for depth in range(11)]
RAW_MEMBERS += [b'"x":' + _nest(depth, "object") + b"," for depth in range(11)]
RAW_WRAPS: list[tuple[bytes, bytes]] = [
    (b"", b""),
    (b"\xef\xbb\xbf", b""),
    (b" \t\r\n", b" \n"),
    (b"\x0c", b""),
    (b"", b"\x00"),
    (b"", b" x"),
    (b"", b"{}"),
    (b"", b","),
    (b"[", b"]"),
    (b"\xc2\xa0", b""),
]


@st.composite
def raw_json(draw: st.DrawFn, base: bytes) -> bytes:
    """`base` (a JSON object) with a raw member spliced in after `{` and a raw wrapping."""
    text = base
    for _ in range(draw(st.integers(0, 2))):
        member = draw(st.sampled_from(RAW_MEMBERS))
        text = text[:1] + member + text[1:]
    prefix, suffix = draw(st.sampled_from(RAW_WRAPS))
    return prefix + text + suffix


@budget(400)
@given(
    data=st.data(),
    target=st.sampled_from(["payload", "header", "both"]),
    max_depth=st.sampled_from([8, 8, 2, 3]),
    audience=st.sampled_from(["sock8", None]),
)
def test_raw_json_parity(
    data: st.DataObject, target: str, max_depth: int, audience: str | None
) -> None:
    payload_base = dumps(claims())
    header = HEADER
    payload = payload_base
    if target in ("header", "both"):
        header = data.draw(raw_json(HEADER), label="header")
    if target in ("payload", "both"):
        payload = data.draw(raw_json(payload_base), label="payload")
    token = craft(header, payload, S1)
    same(
        lambda impl: verify_view(
            impl.Verifier(S1, max_depth=max_depth, audience=audience), token, NOW
        )
    )


# §5 Payload JSON: check_json takes any one value, so the corpus above is used three ways: in
# an object, as a bare value, and wrapped; plus text of JSON's characters and raw bytes.

JSON_CHARACTERS = '{}[],:"\\ \t\n\r0123456789.eE+-tfrnaulsxd\u00e9'


def _member_value(member: bytes) -> bytes:
    """The value of a raw member (`"x":1e400,` gives `1e400`), or the member itself."""
    return member.split(b":", 1)[-1].rstrip(b",") if b":" in member else member


RAW_PAYLOADS = st.one_of(
    st.builds(
        lambda member, wrap: wrap[0] + b"{" + member + b'"a":1}' + wrap[1],
        st.sampled_from(RAW_MEMBERS),
        st.sampled_from(RAW_WRAPS),
    ),
    st.builds(
        lambda member, wrap: wrap[0] + _member_value(member) + wrap[1],
        st.sampled_from(RAW_MEMBERS),
        st.sampled_from(RAW_WRAPS),
    ),
    st.builds(
        _nest,
        st.sampled_from([1, 2, 63, 64, 65, 127, 128, 129, 2000]),
        st.sampled_from(["array", "object"]),
    ),
    st.text(JSON_CHARACTERS, max_size=60),
    st.binary(max_size=40),
)


def check_json_of(impl: ModuleType) -> Callable[..., None]:
    """`check_json` of an implementation (the Rust one lives in `sock8._core`)."""
    checker: Callable[..., None] = (sock8._core if impl is RUST else impl).check_json
    return checker


@budget(600)
@given(
    text=RAW_PAYLOADS,
    as_str=st.booleans(),
    max_depth=st.sampled_from([None, None, 1, 2, 8, 64, 128]),
)
def test_check_json_parity(text: str | bytes, as_str: bool, max_depth: int | None) -> None:
    if isinstance(text, bytes) and as_str:
        text = text.decode("utf-8", "surrogateescape")  # invalid UTF-8: lone surrogates
    same(lambda impl: check_json_of(impl)(text, max_depth=max_depth))


@pytest.mark.parametrize("max_depth", [0, -1, 129, 2**70, True, 1.0, "8"])
def test_check_json_depth_setting_parity(max_depth: object) -> None:
    same(lambda impl: check_json_of(impl)("1", max_depth=max_depth))


@pytest.mark.parametrize("text", [None, 1, bytearray(b"1"), memoryview(b"1"), ["1"]])
def test_check_json_type_parity(text: object) -> None:
    same(lambda impl: check_json_of(impl)(text))


@st.composite
def short_decimals(draw: st.DrawFn) -> str:
    """JSON numbers of up to 17 significant digits, with a decimal exponent.

    Seventeen digits reach the cases where a decimal lies within one ulp of a halfway point,
    which only a correctly rounded conversion (spec §4: the nearest double) gets right.
    """
    if draw(st.booleans()):
        digits = draw(st.text("0123456789", min_size=1, max_size=5))
        return f"{draw(st.integers(NOW - 3, NOW + 3))}.{digits}"
    significand = str(draw(st.integers(0, 10**17 - 1)))
    point = draw(st.integers(1, len(significand)))
    text = significand[:point] + ("." + significand[point:] if point < len(significand) else "")
    shift = draw(st.integers(-30, 30))
    marker = draw(st.sampled_from(["e", "E"]))
    if shift < 0:
        text += f"{marker}-{-shift}"
    elif shift > 0 or draw(st.booleans()):
        text += marker + draw(st.sampled_from(["", "+"])) + str(shift)
    return text


@budget(300)
@given(
    text=short_decimals(),
    claim=st.sampled_from(["exp", "iat", "nbf"]),
    nudge=st.sampled_from([0, 1, -1, 2, -2]),
    leeway=st.sampled_from([0, 0.1, 1.5]),
)
@example(text="1700000000.5", claim="exp", nudge=0, leeway=0)
def test_decimal_times_parity(text: str, claim: str, nudge: int, leeway: float) -> None:
    """Decimal times parse to the nearest double and compare at and around the boundary."""
    token, now = _time_token(text, claim, nudge, leeway)
    same(lambda impl: verify_view(impl.Verifier(S1, leeway=leeway), token, now))


def _time_token(text: str, claim: str, nudge: int, leeway: float) -> tuple[str, float]:
    """A token whose `claim` is the JSON number `text`, and an instant at its boundary.

    The instant is where step 12 (`exp`) or steps 13-14 (`nbf`, `iat`) flip, moved by `nudge`
    doubles.
    """
    now = float(text)
    for _ in range(abs(nudge)):
        now = math.nextafter(now, math.copysign(math.inf, nudge))
    now = now + leeway if claim == "exp" else now - leeway
    fields = {"exp": str(NOW + 100), "iat": str(NOW - 100), "nbf": str(NOW - 100)}
    fields[claim] = text
    payload = (
        f'{{"sub":"u","aud":"sock8","iat":{fields["iat"]},"exp":{fields["exp"]},'
        f'"nbf":{fields["nbf"]},"channels":[]}}'
    ).encode("ascii")
    return craft(HEADER, payload, S1), now


# --------------------------------------------------------------------------------------------
# Multi-key verifiers
# --------------------------------------------------------------------------------------------


@budget(200)
@given(
    signer_kid=st.sampled_from([None, "k1", "k2", "k3"]),
    signer_secret=st.sampled_from([S1, S2, S3, WRONG]),
    ring=st.sampled_from(
        [
            {"k1": S1, "k2": S2, None: S3},
            {"k1": S1, "k2": S2},
            {None: S3},
            {"k2": S2, "k1": S1, None: S3},
        ]
    ),
    channels=st.lists(valid_wire_ids(), max_size=3),
)
def test_multi_key_parity(
    signer_kid: str | None,
    signer_secret: bytes | str,
    ring: dict[str | None, bytes | str],
    channels: list[str],
) -> None:
    def sign(impl: ModuleType) -> object:
        return impl.Signer(signer_secret, kid=signer_kid).sign("u", channels, now=NOW, jti="j")

    token = returned(same(sign))
    assert isinstance(token, str)
    result = same(lambda impl: verify_view(impl.Verifier(ring), token, NOW))
    assert (result[0] == "returned") == (ring.get(signer_kid) == signer_secret)


# --------------------------------------------------------------------------------------------
# Explicit nasty tokens
# --------------------------------------------------------------------------------------------

RFC7515_A1_KEY = base64.urlsafe_b64decode(
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow=="
)
RFC7515_A1 = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)


def _token(header: object = ABSENT, payload: object = ABSENT, key: bytes | str = S1) -> str:
    """A crafted token; dicts are dumped compactly, bytes are used as is."""
    head = HEADER if header is ABSENT else header if isinstance(header, bytes) else dumps(header)
    body = (
        dumps(claims())
        if payload is ABSENT
        else payload
        if isinstance(payload, bytes)
        else dumps(payload)
    )
    return craft(head, body, key)


def _resign(token: str, key: bytes | str = S1) -> str:
    """Keep a token's first two segments, replace its MAC."""
    header, payload, _ = token.split(".")
    mac = hmac.new(key_bytes(key), f"{header}.{payload}".encode("ascii"), hashlib.sha256)
    return f"{header}.{payload}.{b64(mac.digest())}"


_GOOD = _token()
_H, _P, _M = _GOOD.split(".")
_BAD_MAC = b64(b"\x00" * 32)

NASTY_TOKENS: list[tuple[str, str | bytes, dict[str, object], float]] = [
    ("good", _GOOD, {}, NOW),
    ("good-bytes", _GOOD.encode(), {}, NOW),
    ("rfc7515-a1", RFC7515_A1, {"ring": RFC7515_A1_KEY, "audience": None}, 0),
    ("rfc7515-a1-wrong-key", RFC7515_A1, {"audience": None}, 0),
    ("alg-none", b64(b'{"alg":"none"}') + "." + _P + ".", {}, NOW),
    ("alg-none-typ", b64(b'{"alg":"none","typ":"JWT"}') + "." + _P + "." + _M, {}, NOW),
    ("alg-hs256-lower", _token({"alg": "hs256"}), {}, NOW),
    ("alg-HS512", _token({"alg": "HS512"}), {}, NOW),
    ("alg-missing", _token({"typ": "JWT"}), {}, NOW),
    ("alg-dup", _token(b'{"alg":"HS256","alg":"HS256"}'), {}, NOW),
    ("alg-escaped", _token(b'{"\\u0061lg":"HS\\u0032\\u00356"}'), {}, NOW),
    ("crit-empty", _token({"alg": "HS256", "crit": []}), {}, NOW),
    ("crit-null", _token({"alg": "HS256", "crit": None}), {}, NOW),
    ("crit-with-bad-alg", _token({"alg": "none", "crit": []}), {}, NOW),
    ("kid-int", _token({"alg": "HS256", "kid": 5}), {}, NOW),
    ("kid-null", _token({"alg": "HS256", "kid": None}), {}, NOW),
    ("kid-unknown", _token({"alg": "HS256", "kid": "k9"}), {}, NOW),
    ("kid-on-unnamed-ring", _token({"alg": "HS256", "kid": "k1"}), {}, NOW),
    ("kid-empty", _token({"alg": "HS256", "kid": ""}), {}, NOW),
    ("kid-unknown-bad-sig", _token({"alg": "HS256", "kid": "k9"})[:-2] + "!!", {}, NOW),
    ("no-kid-named-ring", _GOOD, {"ring": {"k1": S1}}, NOW),
    ("kid-k1", _token({"alg": "HS256", "kid": "k1"}), {"ring": {"k1": S1, None: S2}}, NOW),
    ("sig-not-b64", f"{_H}.{_P}.{_M[:-1]}*", {}, NOW),
    ("sig-padded", f"{_H}.{_P}.{_M}=", {}, NOW),
    ("sig-empty", f"{_H}.{_P}.", {}, NOW),
    ("sig-31-bytes", f"{_H}.{_P}.{b64(b'x' * 31)}", {}, NOW),
    ("sig-33-bytes", f"{_H}.{_P}.{b64(b'x' * 33)}", {}, NOW),
    ("sig-trailing-bits", f"{_H}.{_P}.{_M[:-1]}{chr(ord(_M[-1]) + 1)}", {}, NOW),
    ("sig-wrong", f"{_H}.{_P}.{_BAD_MAC}", {}, NOW),
    ("payload-not-b64-bad-sig", f"{_H}.{_P}*.{_M}", {}, NOW),
    ("payload-not-b64-good-sig", _resign(f"{_H}.{_P}*.{_M}"), {}, NOW),
    ("payload-padded-good-sig", _resign(f"{_H}.{_P}=.{_M}"), {}, NOW),
    ("payload-len-mod-4-is-1", _resign(f"{_H}.{_P}{'A' * ((1 - len(_P)) % 4)}.{_M}"), {}, NOW),
    ("header-padded", f"{_H}=.{_P}.{_M}", {}, NOW),
    ("header-empty", f".{_P}.{_M}", {}, NOW),
    ("two-segments", f"{_H}.{_P}", {}, NOW),
    ("four-segments", f"{_GOOD}.", {}, NOW),
    ("empty", "", {}, NOW),
    ("dots", "..", {}, NOW),
    ("surrogate", _GOOD + "\ud800", {}, NOW),
    ("non-ascii", _GOOD[:-1] + "\u00e9", {}, NOW),
    ("non-utf8-bytes", _GOOD.encode() + b"\xff", {}, NOW),
    ("too-long", _GOOD, {"max_token_bytes": len(_GOOD) - 1}, NOW),
    ("exactly-max-long", _GOOD, {"max_token_bytes": len(_GOOD)}, NOW),
    ("too-long-garbage", "x" * 600_000, {}, NOW),
    ("bom-payload", _token(payload=b"\xef\xbb\xbf" + dumps(claims())), {}, NOW),
    ("bom-header", _token(b"\xef\xbb\xbf" + HEADER), {}, NOW),
    ("ws-payload", _token(payload=b" \n" + dumps(claims()) + b"\r\t"), {}, NOW),
    ("array-payload", _token(payload=b"[]"), {}, NOW),
    ("string-payload", _token(payload=b'"x"'), {}, NOW),
    ("empty-payload", _token(payload=b""), {}, NOW),
    ("dup-sub", _token(payload=b'{"sub":"a",' + dumps(claims())[1:]), {}, NOW),
    ("dup-escaped", _token(payload=b'{"\\u0073ub":"a",' + dumps(claims())[1:]), {}, NOW),
    ("lone-surrogate", _token(payload=b'{"x":"\\ud800",' + dumps(claims())[1:]), {}, NOW),
    ("surrogate-pair", _token(payload=b'{"x":"\\ud83d\\ude00",' + dumps(claims())[1:]), {}, NOW),
    ("1e400", _token(payload=b'{"x":1e400,' + dumps(claims())[1:]), {}, NOW),
    ("exp-1e400", _token(payload=dumps(claims(exp=0))[:-1] + b',"exp":1e400}'), {}, NOW),
    ("nan", _token(payload=b'{"x":NaN,' + dumps(claims())[1:]), {}, NOW),
    ("depth-8", _token(payload=b'{"x":' + _nest(7, "array") + b"," + dumps(claims())[1:]), {}, NOW),
    ("depth-9", _token(payload=b'{"x":' + _nest(8, "array") + b"," + dumps(claims())[1:]), {}, NOW),
    ("depth-2-ok", _GOOD, {"max_depth": 2}, NOW),
    ("depth-3-of-2", _token(payload=dumps(claims(x={"y": []}))), {"max_depth": 2}, NOW),
    ("header-depth-9", _token({"alg": "HS256", "x": [[[[[[[[1]]]]]]]]}), {}, NOW),
    ("deep-10000", _token(payload=b"[" * 10000 + b"]" * 10000), {}, NOW),
    ("sub-empty", _token(payload=claims(sub="")), {}, NOW),
    ("sub-missing", _token(payload=claims(sub=ABSENT)), {}, NOW),
    ("sub-int", _token(payload=claims(sub=5)), {}, NOW),
    ("exp-missing", _token(payload=claims(exp=ABSENT)), {}, NOW),
    ("exp-string", _token(payload=claims(exp=str(NOW + 60))), {}, NOW),
    ("exp-true", _token(payload=claims(exp=True)), {}, NOW),
    ("exp-null", _token(payload=claims(exp=None)), {}, NOW),
    ("exp-negative", _token(payload=claims(exp=-1)), {}, NOW),
    ("exp-max", _token(payload=claims(exp=MAX_DATE)), {}, NOW),
    ("exp-max-plus-1", _token(payload=claims(exp=MAX_DATE + 1)), {}, NOW),
    ("exp-max-plus-half", _token(payload=claims(exp=MAX_DATE + 0.5)), {}, NOW),
    ("exp-1e20", _token(payload=claims(exp=1e20)), {}, NOW),
    ("exp-10e30-int", _token(payload=claims(exp=10**30)), {}, NOW),
    ("exp-fraction", _token(payload=claims(exp=NOW + 0.5)), {}, NOW),
    ("exp-neg-zero", _token(payload=claims(exp=-0.0, iat=0)), {}, NOW),
    ("exp-equals-now", _token(payload=claims(exp=NOW)), {}, NOW),
    ("exp-just-after-now", _token(payload=claims(exp=NOW + 0.5)), {}, NOW + 0.25),
    ("exp-within-leeway", _token(payload=claims(exp=NOW)), {"leeway": 1}, NOW + 0.5),
    ("exp-at-leeway", _token(payload=claims(exp=NOW)), {"leeway": 1}, NOW + 1),
    ("expired-and-bad-claims", _token(payload=claims(exp=NOW - 1, sub="")), {}, NOW),
    ("expired-and-nbf-future", _token(payload=claims(exp=NOW - 1, nbf=NOW + 9)), {}, NOW),
    ("nbf-equals-now", _token(payload=claims(nbf=NOW)), {}, NOW),
    ("nbf-future", _token(payload=claims(nbf=NOW + 1)), {}, NOW),
    ("nbf-within-leeway", _token(payload=claims(nbf=NOW + 1)), {"leeway": 1}, NOW),
    ("nbf-string", _token(payload=claims(nbf=str(NOW))), {}, NOW),
    ("nbf-null", _token(payload=claims(nbf=None)), {}, NOW),
    ("iat-future", _token(payload=claims(iat=NOW + 1)), {}, NOW),
    ("iat-at-leeway", _token(payload=claims(iat=NOW + 1)), {"leeway": 1}, NOW),
    ("iat-missing", _token(payload=claims(iat=ABSENT)), {}, NOW),
    ("iat-fraction", _token(payload=claims(iat=NOW - 0.5)), {}, NOW),
    ("jti-null", _token(payload=claims(jti=None)), {}, NOW),
    ("jti-int", _token(payload=claims(jti=5)), {}, NOW),
    ("jti-empty", _token(payload=claims(jti="")), {}, NOW),
    ("jti-missing", _token(payload=claims(jti=ABSENT)), {}, NOW),
    ("channels-missing", _token(payload=claims(channels=ABSENT)), {}, NOW),
    ("channels-empty", _token(payload=claims(channels=[])), {}, NOW),
    ("channels-string", _token(payload=claims(channels="a.b")), {}, NOW),
    ("channels-int-entry", _token(payload=claims(channels=[1])), {}, NOW),
    ("channels-bad-entry", _token(payload=claims(channels=["a.b", "a..b"])), {}, NOW),
    ("channels-lower-hex", _token(payload=claims(channels=["%2e##x"])), {}, NOW),
    ("channels-dup", _token(payload=claims(channels=["a.b", "a.b"])), {}, NOW),
    ("channels-unsorted", _token(payload=claims(channels=["z", "a"])), {}, NOW),
    ("channels-over-max", _GOOD, {"max_channels": 1}, NOW),
    ("channels-at-max", _GOOD, {"max_channels": 2}, NOW),
    ("channels-zero-max-empty", _token(payload=claims(channels=[])), {"max_channels": 0}, NOW),
    ("aud-list", _token(payload=claims(aud=["x", "sock8"])), {}, NOW),
    ("aud-empty-list", _token(payload=claims(aud=[])), {}, NOW),
    ("aud-list-non-str", _token(payload=claims(aud=["sock8", 1])), {}, NOW),
    ("aud-wrong", _token(payload=claims(aud="x")), {}, NOW),
    ("aud-missing", _token(payload=claims(aud=ABSENT)), {}, NOW),
    ("aud-null", _token(payload=claims(aud=None)), {}, NOW),
    ("aud-nested", _token(payload=claims(aud=[["sock8"]])), {}, NOW),
    ("aud-unexpected", _GOOD, {"audience": None}, NOW),
    ("aud-null-unexpected", _token(payload=claims(aud=None)), {"audience": None}, NOW),
    ("aud-absent-none", _token(payload=claims(aud=ABSENT)), {"audience": None}, NOW),
    ("iss-ok", _token(payload=claims(iss="me")), {"issuer": "me"}, NOW),
    ("iss-missing", _GOOD, {"issuer": "me"}, NOW),
    ("iss-wrong", _token(payload=claims(iss="you")), {"issuer": "me"}, NOW),
    ("iss-null", _token(payload=claims(iss=None)), {"issuer": "me"}, NOW),
    ("iss-ignored", _token(payload=claims(iss=5)), {}, NOW),
]


# What docs/spec.md §4 says each nasty token gives (`None`: accepted), so that the oracle itself
# is pinned, not only its agreement with the Rust core.
NASTY_TOKEN_OUTCOMES: dict[str, type[Exception] | None] = {
    "good": None,
    "good-bytes": None,
    "rfc7515-a1": errors.InvalidClaims,
    "rfc7515-a1-wrong-key": errors.BadSignature,
    "alg-none": errors.MalformedToken,
    "alg-none-typ": errors.MalformedToken,
    "alg-hs256-lower": errors.MalformedToken,
    "alg-HS512": errors.MalformedToken,
    "alg-missing": errors.MalformedToken,
    "alg-dup": errors.MalformedToken,
    "alg-escaped": None,
    "crit-empty": errors.MalformedToken,
    "crit-null": errors.MalformedToken,
    "crit-with-bad-alg": errors.MalformedToken,
    "kid-int": errors.MalformedToken,
    "kid-null": errors.MalformedToken,
    "kid-unknown": errors.UnknownKey,
    "kid-on-unnamed-ring": errors.UnknownKey,
    "kid-empty": errors.UnknownKey,
    "kid-unknown-bad-sig": errors.UnknownKey,
    "no-kid-named-ring": errors.UnknownKey,
    "kid-k1": None,
    "sig-not-b64": errors.MalformedToken,
    "sig-padded": errors.MalformedToken,
    "sig-empty": errors.BadSignature,
    "sig-31-bytes": errors.BadSignature,
    "sig-33-bytes": errors.BadSignature,
    "sig-trailing-bits": errors.MalformedToken,
    "sig-wrong": errors.BadSignature,
    "payload-not-b64-bad-sig": errors.BadSignature,
    "payload-not-b64-good-sig": errors.MalformedToken,
    "payload-padded-good-sig": errors.MalformedToken,
    "payload-len-mod-4-is-1": errors.MalformedToken,
    "header-padded": errors.MalformedToken,
    "header-empty": errors.MalformedToken,
    "two-segments": errors.MalformedToken,
    "four-segments": errors.MalformedToken,
    "empty": errors.MalformedToken,
    "dots": errors.MalformedToken,
    "surrogate": errors.MalformedToken,
    "non-ascii": errors.MalformedToken,
    "non-utf8-bytes": errors.MalformedToken,
    "too-long": errors.MalformedToken,
    "exactly-max-long": None,
    "too-long-garbage": errors.MalformedToken,
    "bom-payload": errors.MalformedToken,
    "bom-header": errors.MalformedToken,
    "ws-payload": None,
    "array-payload": errors.MalformedToken,
    "string-payload": errors.MalformedToken,
    "empty-payload": errors.MalformedToken,
    "dup-sub": errors.MalformedToken,
    "dup-escaped": errors.MalformedToken,
    "lone-surrogate": errors.MalformedToken,
    "surrogate-pair": None,
    "1e400": errors.MalformedToken,
    "exp-1e400": errors.MalformedToken,
    "nan": errors.MalformedToken,
    "depth-8": None,
    "depth-9": errors.MalformedToken,
    "depth-2-ok": None,
    "depth-3-of-2": errors.MalformedToken,
    "header-depth-9": errors.MalformedToken,
    "deep-10000": errors.MalformedToken,
    "sub-empty": errors.InvalidClaims,
    "sub-missing": errors.InvalidClaims,
    "sub-int": errors.InvalidClaims,
    "exp-missing": errors.InvalidClaims,
    "exp-string": errors.InvalidClaims,
    "exp-true": errors.InvalidClaims,
    "exp-null": errors.InvalidClaims,
    "exp-negative": errors.InvalidClaims,
    "exp-max": None,
    "exp-max-plus-1": errors.InvalidClaims,
    "exp-max-plus-half": errors.InvalidClaims,
    "exp-1e20": errors.InvalidClaims,
    "exp-10e30-int": errors.InvalidClaims,
    "exp-fraction": None,
    "exp-neg-zero": errors.TokenExpired,
    "exp-equals-now": errors.TokenExpired,
    "exp-just-after-now": None,
    "exp-within-leeway": None,
    "exp-at-leeway": errors.TokenExpired,
    "expired-and-bad-claims": errors.InvalidClaims,
    "expired-and-nbf-future": errors.TokenExpired,
    "nbf-equals-now": None,
    "nbf-future": errors.TokenNotYetValid,
    "nbf-within-leeway": None,
    "nbf-string": errors.InvalidClaims,
    "nbf-null": errors.InvalidClaims,
    "iat-future": errors.TokenNotYetValid,
    "iat-at-leeway": None,
    "iat-missing": errors.InvalidClaims,
    "iat-fraction": None,
    "jti-null": errors.InvalidClaims,
    "jti-int": errors.InvalidClaims,
    "jti-empty": None,
    "jti-missing": None,
    "channels-missing": errors.InvalidClaims,
    "channels-empty": None,
    "channels-string": errors.InvalidClaims,
    "channels-int-entry": errors.InvalidClaims,
    "channels-bad-entry": errors.InvalidClaims,
    "channels-lower-hex": errors.InvalidClaims,
    "channels-dup": None,
    "channels-unsorted": None,
    "channels-over-max": errors.InvalidClaims,
    "channels-at-max": None,
    "channels-zero-max-empty": None,
    "aud-list": None,
    "aud-empty-list": errors.InvalidClaims,
    "aud-list-non-str": errors.InvalidClaims,
    "aud-wrong": errors.InvalidClaims,
    "aud-missing": errors.InvalidClaims,
    "aud-null": errors.InvalidClaims,
    "aud-nested": errors.InvalidClaims,
    "aud-unexpected": errors.InvalidClaims,
    "aud-null-unexpected": errors.InvalidClaims,
    "aud-absent-none": None,
    "iss-ok": None,
    "iss-missing": errors.InvalidClaims,
    "iss-wrong": errors.InvalidClaims,
    "iss-null": errors.InvalidClaims,
    "iss-ignored": None,
}


@pytest.mark.parametrize(
    ("name", "token", "options", "now"), NASTY_TOKENS, ids=[case[0] for case in NASTY_TOKENS]
)
def test_nasty_tokens(
    name: str, token: str | bytes, options: dict[str, object], now: float
) -> None:
    options = dict(options)
    ring = options.pop("ring", S1)
    result = same(lambda impl: verify_view(impl.Verifier(ring, **options), token, now))
    expected = NASTY_TOKEN_OUTCOMES[name]
    if expected is None:
        returned(result)
    else:
        assert raised(result) is expected


# --------------------------------------------------------------------------------------------
# The oracle checked against outside references
# --------------------------------------------------------------------------------------------


def test_reference_checks_rfc7515_a1() -> None:
    """RFC 7515 A.1's MAC verifies (the claims then fail); another key's does not."""
    with pytest.raises(errors.InvalidClaims):
        ref.Verifier(RFC7515_A1_KEY, audience=None).verify(RFC7515_A1, now=0)
    with pytest.raises(errors.BadSignature):
        ref.Verifier(S1, audience=None).verify(RFC7515_A1, now=0)


def test_reference_interoperates_with_pyjwt() -> None:
    jwt = pytest.importorskip("jwt")
    token = ref.Signer(S1, issuer="me").sign("u1", ["b.c", "a"], now=NOW, jti="j")
    decoded = jwt.decode(
        token, S1, algorithms=["HS256"], audience="sock8", issuer="me", leeway=10**10
    )
    assert decoded == {
        "sub": "u1",
        "aud": "sock8",
        "iss": "me",
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": "j",
        "channels": ["a", "b.c"],
    }
    theirs = jwt.encode(claims(nbf=NOW - 5), S1, algorithm="HS256")
    grants = ref.Verifier(S1).verify(theirs, now=NOW)
    assert grants.channels == ("admin.logs", "chat.r%201##roomId.messages")


# --------------------------------------------------------------------------------------------
# Settled cases: once disagreements, now pinned by docs/spec.md ("Argument types", §4)
# --------------------------------------------------------------------------------------------


def _sign(**overrides: object) -> Callable[[ModuleType], object]:
    """A `sign` call with `overrides` on top of valid arguments."""
    arguments: dict[str, object] = {"now": NOW, "jti": "j", **overrides}
    identity = arguments.pop("identity", "u1")
    return lambda impl: impl.Signer(S1).sign(identity, ["a.b"], **arguments)


def _verify_time(text: str, claim: str, nudge: int) -> Callable[[ModuleType], object]:
    """Verify a token whose `claim` is the JSON number `text` at its boundary."""
    token, now = _time_token(text, claim, nudge, 0)
    return lambda impl: verify_view(impl.Verifier(S1), token, now)


SETTLED_CASES: list[tuple[str, Callable[[ModuleType], object], str]] = [
    (
        "verifier-leeway-str",
        lambda impl: impl.Verifier(S1, leeway="1"),
        "a str leeway is a TypeError",
    ),
    (
        "verifier-leeway-none",
        lambda impl: impl.Verifier(S1, leeway=None).leeway,
        "None means the default",
    ),
    (
        "verifier-max-token-bytes-float",
        lambda impl: impl.Verifier(S1, max_token_bytes=1.0),
        "a value of the wrong type is a TypeError",
    ),
    (
        "verifier-max-token-bytes-str",
        lambda impl: impl.Verifier(S1, max_token_bytes="5"),
        "a value of the wrong type is a TypeError",
    ),
    (
        "verifier-max-token-bytes-none",
        lambda impl: impl.Verifier(S1, max_token_bytes=None).audience,
        "None means the default",
    ),
    (
        "verifier-audience-int",
        lambda impl: impl.Verifier(S1, audience=5),
        "a non-str audience is a TypeError",
    ),
    (
        "verifier-audience-bytes",
        lambda impl: impl.Verifier(S1, audience=b"sock8"),
        "a value of the wrong type is a TypeError",
    ),
    (
        "verifier-audience-lone-surrogate",
        lambda impl: impl.Verifier(S1, audience="\ud800"),
        "a lone surrogate in a name is a ConfigError",
    ),
    (
        "verifier-issuer-int",
        lambda impl: impl.Verifier(S1, issuer=5),
        "a value of the wrong type is a TypeError",
    ),
    (
        "signer-ttl-float",
        lambda impl: impl.Signer(S1, ttl=60.0),
        "a float ttl is a TypeError",
    ),
    (
        "signer-ttl-str",
        lambda impl: impl.Signer(S1, ttl="60"),
        "a str ttl is a TypeError",
    ),
    (
        "signer-ttl-none",
        lambda impl: impl.Signer(S1, ttl=None).ttl,
        "None means the default ttl",
    ),
    (
        "signer-audience-int",
        lambda impl: impl.Signer(S1, audience=5),
        "a non-str audience is a TypeError",
    ),
    (
        "sign-ttl-float",
        _sign(ttl=60.0),
        "a float ttl is a TypeError",
    ),
    (
        "sign-ttl-str",
        _sign(ttl="60"),
        "a str ttl is a TypeError",
    ),
    (
        "sign-now-int-beyond-double",
        _sign(now=2**1024),
        "an int beyond a double is out of range: ValueError",
    ),
    (
        "sign-identity-int",
        _sign(identity=5),
        "a non-str identity is a TypeError",
    ),
    (
        "exp-17-digits-rounded-down",
        _verify_time("1699999997.0001001", "exp", -1),
        "17 digits, read as the nearest double (serde_json reads it 1 ulp low)",
    ),
    (
        "exp-17-digits-rounded-up",
        _verify_time("2.2250738585072011e-308", "exp", 0),
        "17 digits, read as the nearest double (serde_json reads it 1 ulp high)",
    ),
]


@pytest.mark.parametrize("call", [pytest.param(c, id=name) for name, c, _ in SETTLED_CASES])
def test_settled_cases(call: Callable[[ModuleType], object]) -> None:
    same(call)
