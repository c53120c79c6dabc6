"""The hypothesis strategies of the parity tests, by section of docs/spec.md: channel ids, key
material, sign arguments, tokens tampered with, crafted claims and headers, raw JSON, payloads."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import string
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from sock8 import errors

from tests.core import reference as ref
from tests.core.parity.cases import RAW_MEMBERS, RAW_WRAPS
from tests.core.parity.compare import outcome
from tests.core.parity.crafting import ABSENT, HEADER, MAX_DATE, MAX_TTL, NOW, S1, S2, S3, nest
from tests.support.jws import b64

# --------------------------------------------------------------------------------------------
# §1 Channel ids
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
# §2 Keys, and the settings of signers (§3) and verifiers (§4)
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


# --------------------------------------------------------------------------------------------
# §3 Signing
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


# --------------------------------------------------------------------------------------------
# §4 Verification: signed tokens, as they are and tampered with
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


# --------------------------------------------------------------------------------------------
# §4 Verification: crafted tokens (valid MAC, hand-made header and payload)
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


@st.composite
def raw_json(draw: st.DrawFn, base: bytes) -> bytes:
    """`base` (a JSON object) with a raw member spliced in after `{` and a raw wrapping."""
    text = base
    for _ in range(draw(st.integers(0, 2))):
        member = draw(st.sampled_from(RAW_MEMBERS))
        text = text[:1] + member + text[1:]
    prefix, suffix = draw(st.sampled_from(RAW_WRAPS))
    return prefix + text + suffix


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


# --------------------------------------------------------------------------------------------
# §5 Payload JSON
# --------------------------------------------------------------------------------------------

# check_json takes any one value, so the raw JSON corpus (RAW_MEMBERS, RAW_WRAPS in cases.py) is
# used three ways: in an object, as a bare value, and wrapped; plus text of JSON's characters and
# raw bytes.

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
        nest,
        st.sampled_from([1, 2, 63, 64, 65, 127, 128, 129, 2000]),
        st.sampled_from(["array", "object"]),
    ),
    st.text(JSON_CHARACTERS, max_size=60),
    st.binary(max_size=40),
)
