"""Pure-Python reference implementation of the sock8 core rules (docs/spec.md).

This module is a test oracle, never shipped: it implements docs/spec.md literally and plainly,
so that hypothesis can prove that the Rust core (`sock8._core`) gives the same result and the
same error class on every input. Clarity beats speed here. Standard library only.

The exception classes are the real ones from `sock8.errors`, so `type(exc)` can be compared
exactly with what the Rust core raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

from sock8.errors import (
    BadSignature,
    ChannelError,
    ConfigError,
    InvalidClaims,
    MalformedToken,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
)

__all__ = [
    "MAX_CHANNELS",
    "MAX_JSON_DEPTH",
    "MAX_PAYLOAD_DEPTH",
    "MAX_SEGMENTS",
    "MAX_TOKEN_BYTES",
    "MAX_WIRE_ID_BYTES",
    "MIN_SECRET_BYTES",
    "ChannelTemplate",
    "Grants",
    "Signer",
    "Verifier",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "check_json",
    "parse_channel",
    "render_channel",
]

# --------------------------------------------------------------------------------------------
# Limits (docs/spec.md)
# --------------------------------------------------------------------------------------------

MAX_WIRE_ID_BYTES = 512
MAX_SEGMENTS = 16
MAX_TOKEN_BYTES = 524_288
MAX_JSON_DEPTH = 8
MAX_CHANNELS = 10_000
MIN_SECRET_BYTES = 32
MAX_PAYLOAD_DEPTH = 64
MAX_CHECK_DEPTH = 2 * MAX_PAYLOAD_DEPTH

MAX_NUMERIC_DATE = 253_402_300_799
"""The end of year 9999, the largest accepted NumericDate (spec §4)."""
MAX_TTL = 31_536_000
MAX_LEEWAY = 86_400

# --------------------------------------------------------------------------------------------
# §1 Channel ids
# --------------------------------------------------------------------------------------------

_STATIC_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_PARAM_SEGMENT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~-")
_UPPER_HEX = "0123456789ABCDEF"


def _is_static_segment(segment: str) -> bool:
    """Whether `segment` is a static segment: `[A-Za-z0-9_-]{1,64}` (ASCII only)."""
    return _STATIC_SEGMENT.fullmatch(segment) is not None


def _is_param_name(name: str) -> bool:
    """Whether `name` matches the parameter-name grammar `[A-Za-z_][A-Za-z0-9_]{0,63}`."""
    return _PARAM_NAME.fullmatch(name) is not None


def _parse_template(template: str) -> list[tuple[bool, str]]:
    """Split a template into `(is_param, text)` pairs (spec §1.1), or raise `ChannelError`.

    For a static segment `text` is the segment; for a parameter segment it is the name.
    """
    if not isinstance(template, str):
        raise TypeError(f"a template is a str, not {type(template).__name__}")
    if template == "":
        raise ChannelError("empty template")
    segments = template.split(".")
    if len(segments) > MAX_SEGMENTS:
        raise ChannelError(f"more than {MAX_SEGMENTS} segments")
    parsed: list[tuple[bool, str]] = []
    names: set[str] = set()
    for segment in segments:
        param = _PARAM_SEGMENT.fullmatch(segment)
        if param is not None:
            name = param.group(1)
            if name in names:
                raise ChannelError(f"duplicate parameter name {name!r}")
            names.add(name)
            parsed.append((True, name))
        elif _is_static_segment(segment):
            parsed.append((False, segment))
        else:
            raise ChannelError(f"invalid template segment {segment!r}")
    return parsed


def _value_text(name: str, value: object) -> str:
    """The text of a parameter value (spec §1.2): a `str`, or an `int` in decimal form."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ChannelError(f"value of {name!r} must be str or int, not {type(value).__name__}")
    if isinstance(value, int):
        # A decimal form longer than a whole wire id can never render; refusing by size first
        # also keeps clear of Python's int-to-str digit limit for enormous ints.
        if value.bit_length() > 4 * MAX_WIRE_ID_BYTES:
            raise ChannelError(f"value of {name!r} is too long")
        return str(value)
    return value


def _escape(name: str, text: str) -> str:
    """Escape a value (spec §1.2): unreserved UTF-8 bytes stay, others become `%XX`."""
    if text == "":
        raise ChannelError(f"empty value for {name!r}")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ChannelError(f"value of {name!r} contains a lone surrogate") from None
    out: list[str] = []
    for byte in raw:
        if byte in _UNRESERVED:
            out.append(chr(byte))
        else:
            out.append("%" + _UPPER_HEX[byte >> 4] + _UPPER_HEX[byte & 0xF])
    return "".join(out)


class ChannelTemplate:
    """A validated channel template such as `chat.{roomId}.messages` (spec §1.1)."""

    def __init__(self, template: str) -> None:
        self._segments = _parse_template(template)
        self._template = template

    @property
    def template(self) -> str:
        """The template text."""
        return self._template

    @property
    def params(self) -> tuple[str, ...]:
        """Parameter names in template order."""
        return tuple(text for is_param, text in self._segments if is_param)

    def render(self, values: Mapping[str, str | int] | None = None) -> str:
        """Render the wire id for `values` (spec §1.2)."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a mapping, not {type(values).__name__}")
        params = self.params
        for name in params:
            if name not in values:
                raise ChannelError(f"missing value for {name!r}")
        for name in values:
            if name not in params:
                raise ChannelError(f"unexpected value for {name!r}")
        parts: list[str] = []
        for is_param, text in self._segments:
            if is_param:
                parts.append(_escape(text, _value_text(text, values[text])) + "##" + text)
            else:
                parts.append(text)
        wire_id = ".".join(parts)
        if len(wire_id.encode("utf-8")) > MAX_WIRE_ID_BYTES:
            raise ChannelError(f"wire id longer than {MAX_WIRE_ID_BYTES} bytes")
        return wire_id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChannelTemplate):
            return NotImplemented
        return self._template == other._template

    def __hash__(self) -> int:
        return hash(self._template)

    def __repr__(self) -> str:
        return f"ChannelTemplate({self._template!r})"


def render_channel(template: str, values: Mapping[str, str | int] | None = None) -> str:
    """`ChannelTemplate(template).render(values)`."""
    return ChannelTemplate(template).render(values)


def _unescape(esc: str) -> str:
    """Decode a canonical escaped value (spec §1.3 rule 3), or raise `ChannelError`."""
    if esc == "":
        raise ChannelError("empty parameter value")
    raw = bytearray()
    i = 0
    while i < len(esc):
        char = esc[i]
        if char == "%":
            hex_digits = esc[i + 1 : i + 3]
            if len(hex_digits) != 2 or any(d not in _UPPER_HEX for d in hex_digits):
                raise ChannelError("an escape must be % and two upper-case hex digits")
            byte = int(hex_digits, 16)
            if byte in _UNRESERVED:
                raise ChannelError(f"needless escape %{hex_digits}")
            raw.append(byte)
            i += 3
        elif len(char) == 1 and ord(char) < 128 and ord(char) in _UNRESERVED:
            raw.append(ord(char))
            i += 1
        else:
            raise ChannelError(f"character {char!r} must be escaped")
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ChannelError("escaped value is not valid UTF-8") from None


def parse_channel(wire_id: str) -> tuple[str, dict[str, str]]:
    """Split a wire id into `(template, values)` (spec §1.3), or raise `ChannelError`."""
    if not isinstance(wire_id, str):
        raise TypeError(f"a wire id is a str, not {type(wire_id).__name__}")
    try:
        size = len(wire_id.encode("utf-8"))
    except UnicodeEncodeError:
        raise ChannelError("wire id contains a lone surrogate") from None
    # Rule 1.
    if size == 0:
        raise ChannelError("empty wire id")
    if size > MAX_WIRE_ID_BYTES:
        raise ChannelError(f"wire id longer than {MAX_WIRE_ID_BYTES} bytes")
    # Rule 2.
    segments = wire_id.split(".")
    if len(segments) > MAX_SEGMENTS:
        raise ChannelError(f"more than {MAX_SEGMENTS} segments")
    template_parts: list[str] = []
    values: dict[str, str] = {}
    for segment in segments:
        if segment == "":
            raise ChannelError("empty segment")
        if "##" in segment:
            # Rule 3.
            esc, name = segment.split("##", 1)
            if not _is_param_name(name):
                raise ChannelError(f"invalid parameter name {name!r}")
            if name in values:
                raise ChannelError(f"duplicate parameter name {name!r}")
            values[name] = _unescape(esc)
            template_parts.append("{" + name + "}")
        elif _is_static_segment(segment):
            # Rule 4.
            template_parts.append(segment)
        else:
            raise ChannelError(f"invalid segment {segment!r}")
    return ".".join(template_parts), values


def _is_wire_id(value: object) -> bool:
    """Whether `value` is a `str` that `parse_channel` accepts."""
    if not isinstance(value, str):
        return False
    try:
        parse_channel(value)
    except ChannelError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Canonical base64url and strict JSON (spec §4, "Canonical base64url", "Strict JSON")
# --------------------------------------------------------------------------------------------

_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")


class _Rejected(Exception):
    """Internal: an encoding rule was broken. Callers turn it into the spec's error class."""


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: bytes) -> bytes:
    """Decode canonical base64url, or raise `_Rejected`.

    Canonical: only `[A-Za-z0-9_-]`, no `=`, length mod 4 is not 1, and the unused low bits of
    the last character are zero. An empty segment decodes to no bytes.
    """
    if _B64URL_SEGMENT.fullmatch(segment) is None:
        raise _Rejected("character outside the base64url alphabet")
    remainder = len(segment) % 4
    if remainder == 1:
        raise _Rejected("impossible base64url length")
    if remainder:
        last_value = _B64URL_ALPHABET.index(chr(segment[-1]))
        # 2 characters carry 12 bits for 1 byte (4 unused); 3 carry 18 bits for 2 bytes (2).
        unused_mask = 0b1111 if remainder == 2 else 0b11
        if last_value & unused_mask:
            raise _Rejected("non-zero unused bits in the last character")
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _reject_constant(name: str) -> NoReturn:
    """`json.loads` hook: `NaN`, `Infinity` and `-Infinity` are not JSON."""
    raise _Rejected(f"{name} is not JSON")


def _parse_json_float(text: str) -> float:
    """`json.loads` hook for numbers with a fraction or exponent: refuse overflow to inf."""
    value = float(text)
    if math.isinf(value):
        raise _Rejected(f"number {text[:20]} is too large for a double")
    return value


def _parse_json_int(text: str) -> int:
    """`json.loads` hook for integers: refuse those too large for a double (spec: 1e400)."""
    if math.isinf(float(text)):
        raise _Rejected(f"number {text[:20]} is too large for a double")
    return int(text)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads` hook: build an object, refusing a duplicate member name (after unescaping)."""
    obj: dict[str, Any] = {}
    for name, value in pairs:
        if name in obj:
            raise _Rejected(f"duplicate member name {name!r}")
        obj[name] = value
    return obj


def _check_string(text: str) -> None:
    """Refuse a string holding a lone surrogate (only a `\\u` escape can produce one)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Rejected("lone surrogate in a \\u escape") from None


def _check_tree(value: object, depth: int, max_depth: int) -> None:
    """Check strings and depth below `value`, a container at `depth` if it is one.

    The top-level object is depth 1 and each nested array or object adds one; scalars add
    nothing. Recursion stops as soon as the depth limit is passed.
    """
    if isinstance(value, str):
        _check_string(value)
    elif isinstance(value, list):
        if depth > max_depth:
            raise _Rejected(f"nesting deeper than {max_depth}")
        for item in value:
            _check_tree(item, depth + 1, max_depth)
    elif isinstance(value, dict):
        if depth > max_depth:
            raise _Rejected(f"nesting deeper than {max_depth}")
        for name, item in value.items():
            _check_string(name)
            _check_tree(item, depth + 1, max_depth)


def strict_json_object(data: bytes, max_depth: int) -> dict[str, Any]:
    """Decode strict JSON whose top-level value is an object, or raise `_Rejected`.

    Strict: valid UTF-8 without a byte-order mark; RFC 8259 with only whitespace after the
    value; no NaN/Infinity; no number too large for a double; no lone surrogate; no duplicate
    member name at any depth; nesting at most `max_depth`.
    """
    value = _strict_json_value(data, max_depth, object_only=True)
    assert isinstance(value, dict)
    return value


def _strict_json_value(data: bytes, max_depth: int, *, object_only: bool) -> Any:
    """Decode one strict JSON value (an object, when `object_only`), or raise `_Rejected`."""
    try:
        text = data.decode("utf-8")  # strict: refuses overlongs, encoded surrogates, etc.
    except UnicodeDecodeError:
        raise _Rejected("not valid UTF-8") from None
    if text.startswith("\ufeff"):
        raise _Rejected("byte-order mark")
    try:
        # Passing a str (not bytes) keeps json from guessing UTF-16/32. CPython's C scanner
        # accepts only ASCII digits and JSON whitespace, as RFC 8259 does.
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_reject_constant,
            parse_float=_parse_json_float,
            parse_int=_parse_json_int,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise _Rejected(f"not JSON: {exc}") from None
    if object_only and not isinstance(value, dict):
        raise _Rejected("the top-level value is not an object")
    _check_tree(value, 1, max_depth)
    return value


def check_json(text: object, *, max_depth: object = None) -> None:
    """§5: raise `ValueError` unless `text` (a `str`, or UTF-8 `bytes`) is exactly one strict
    JSON value of any type, nested at most `max_depth` deep (default `MAX_PAYLOAD_DEPTH`, from 1
    to `MAX_CHECK_DEPTH`)."""
    if max_depth is None:
        max_depth = MAX_PAYLOAD_DEPTH
    if isinstance(max_depth, bool) or not isinstance(max_depth, int):
        raise TypeError("max_depth must be an int")
    if not 1 <= max_depth <= MAX_CHECK_DEPTH:
        raise ValueError(f"max_depth must be from 1 to {MAX_CHECK_DEPTH}")
    if isinstance(text, str):
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("invalid JSON: text is not valid Unicode") from None
    elif isinstance(text, bytes):
        data = text
    else:
        raise TypeError("text must be str or bytes")
    try:
        _strict_json_value(data, max_depth, object_only=False)
    except _Rejected as exc:
        raise ValueError(f"invalid JSON: {exc}") from None


def canonical_json(value: object) -> str:
    """The signer's JSON text (spec §3): compact, only the required escapes, UTF-8 as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# §2 Keys
# --------------------------------------------------------------------------------------------

_ASCII_WHITESPACE = b" \t\n\x0c\r"
"""ASCII whitespace as WHATWG and Rust's `u8::is_ascii_whitespace` define it (no VT)."""
_BOM = b"\xef\xbb\xbf"
_PEM_MARKERS = (b"-----BEGIN", b"---- BEGIN")
_SSH_KEY_TYPES = (b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-")


_JSON_WHITESPACE = " \t\n\r"
_JSON_TOKEN = re.compile(
    r"""(?P<punct>[{}\[\],:])
    | (?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*")
    | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)
    | (?P<literal>true|false|null)""",
    re.VERBOSE,
)


def _skip_json_whitespace(text: str, pos: int) -> int:
    """The first position at or after `pos` that is not JSON whitespace."""
    while pos < len(text) and text[pos] in _JSON_WHITESPACE:
        pos += 1
    return pos


def _json_tokens(text: str) -> list[str] | None:
    """RFC 8259 tokens of `text`: punctuation as itself, `s` for a string, `v` for a number or
    literal; `None` when some text is not a token."""
    tokens: list[str] = []
    pos = _skip_json_whitespace(text, 0)
    while pos < len(text):
        token = _JSON_TOKEN.match(text, pos)
        if token is None:
            return None
        kind = token.lastgroup
        tokens.append(token.group() if kind == "punct" else "s" if kind == "string" else "v")
        pos = _skip_json_whitespace(text, token.end())
    return tokens


def _parses_as_json(text: str) -> bool:
    """Whether `text` is one RFC 8259 JSON text (for the key check).

    Grammar only, at any depth, with an explicit stack: the spec asks whether the secret *is*
    JSON, so duplicate names, lone-surrogate escapes and huge numbers still count.
    """
    tokens = _json_tokens(text)
    if not tokens:
        return False
    stack: list[str] = []  # open containers, "{" or "["
    state = "value"  # what the grammar expects next
    for token in tokens:
        if state == "done":
            return False
        if state in ("value", "value_or_end"):
            if state == "value_or_end" and token == "]":
                stack.pop()
            elif token in ("{", "["):
                stack.append(token)
                state = "key_or_end" if token == "{" else "value_or_end"
                continue
            elif token not in ("s", "v"):
                return False
        elif state in ("key", "key_or_end"):
            if state == "key_or_end" and token == "}":
                stack.pop()
            elif token == "s":
                state = "colon"
                continue
            else:
                return False
        elif state == "colon":
            if token != ":":
                return False
            state = "value"
            continue
        else:  # "comma_or_end"
            closer = "}" if stack[-1] == "{" else "]"
            if token == ",":
                state = "key" if stack[-1] == "{" else "value"
                continue
            if token != closer:
                return False
            stack.pop()
        # A value just ended.
        state = "comma_or_end" if stack else "done"
    return state == "done"


def _trimmed(raw: bytes) -> bytes:
    """`raw` without leading ASCII whitespace and UTF-8 byte-order marks, in any mix."""
    while True:
        if raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        elif raw[:1] and raw[0] in _ASCII_WHITESPACE:
            raw = raw[1:]
        else:
            return raw


def _words(raw: bytes) -> list[bytes]:
    """The non-empty runs of `raw` between ASCII whitespace bytes."""
    words: list[bytes] = []
    current = bytearray()
    for byte in raw:
        if byte in _ASCII_WHITESPACE:
            if current:
                words.append(bytes(current))
            current = bytearray()
        else:
            current.append(byte)
    if current:
        words.append(bytes(current))
    return words


def _looks_like_pem(raw: bytes) -> bool:
    """Spec §2, first rule: `-----BEGIN` or `---- BEGIN` anywhere."""
    return any(marker in raw for marker in _PEM_MARKERS)


def _looks_like_ssh(raw: bytes) -> bool:
    """Spec §2, second rule: an OpenSSH key type first, or a key type word then an `AAAA` word."""
    if _trimmed(raw).startswith(_SSH_KEY_TYPES):
        return True
    words = _words(raw)
    return any(
        word.startswith(_SSH_KEY_TYPES) and following.startswith(b"AAAA")
        for word, following in itertools.pairwise(words)
    )


def _looks_like_json(raw: bytes) -> bool:
    """Spec §2, third rule: a JSON object or array (a JWK, a JWK set, a list of JWKs)."""
    try:
        text = _trimmed(raw).rstrip(_ASCII_WHITESPACE).decode("utf-8")
    except UnicodeDecodeError:
        return False
    framed = (text.startswith("{") and text.endswith("}")) or (
        text.startswith("[") and text.endswith("]")
    )
    return framed and _parses_as_json(text)


def _der_element(data: bytes) -> tuple[int, bytes, bytes] | None:
    """Split one DER element off `data`: `(tag, content, rest)`, or `None`.

    The length must be definite and minimal: short form below 0x80; otherwise long form with no
    leading zero byte and a value of at least 0x80. The content must fit in `data`.
    """
    if len(data) < 2:
        return None
    tag, first = data[0], data[1]
    if first < 0x80:
        length, header = first, 2
    else:
        count = first & 0x7F
        length_bytes = data[2 : 2 + count]
        if count == 0 or len(length_bytes) != count or length_bytes[0] == 0:
            return None
        length, header = int.from_bytes(length_bytes, "big"), 2 + count
        if length < 0x80:
            return None
    if header + length > len(data):
        return None
    return tag, data[header : header + length], data[header + length :]


def _looks_like_der(raw: bytes) -> bool:
    """Spec §2, fourth rule: one DER SEQUENCE spanning the secret whose first element is an
    INTEGER, or a SEQUENCE whose content starts with 0x02, 0x06 or 0xA0."""
    outer = _der_element(raw)
    if outer is None or outer[0] != 0x30 or outer[2] != b"":
        return False
    first = _der_element(outer[1])
    if first is None:
        return False
    tag, content, _ = first
    if tag == 0x02:
        return True
    return tag == 0x30 and content[:1] in (b"\x02", b"\x06", b"\xa0")


def _looks_like_key_document(raw: bytes) -> bool:
    """Whether secret bytes look like a PEM, SSH, JWK or DER key (spec §2)."""
    return (
        _looks_like_pem(raw)
        or _looks_like_ssh(raw)
        or _looks_like_json(raw)
        or (_looks_like_der(raw))
    )


def secret_bytes(secret: object) -> bytes:
    """The key bytes of a secret (spec §2), or `ConfigError`; `TypeError` for other types."""
    if isinstance(secret, str):
        try:
            raw = secret.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError("secret contains a lone surrogate") from None
    elif isinstance(secret, bytes):
        raw = bytes(secret)
    else:
        raise TypeError(f"a secret is str or bytes, not {type(secret).__name__}")
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(f"secret shorter than {MIN_SECRET_BYTES} bytes")
    if _looks_like_key_document(raw):
        raise ConfigError("secret looks like a PEM, SSH or JWK key, not an HMAC secret")
    return raw


def _is_int(value: object) -> bool:
    """A real `int` (a `bool` is not one here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_encodable_str(value: object) -> bool:
    """A non-empty `str` with no lone surrogate."""
    if not isinstance(value, str) or value == "":
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _optional_name(value: object, what: str) -> str | None:
    """`None` or a non-empty `str` (audience, issuer, kid): another type is a `TypeError`, an
    empty `str` or one with a lone surrogate a `ConfigError` (spec, "Argument types")."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str or None")
    if not _is_encodable_str(value):
        raise ConfigError(f"{what} must be a non-empty str or None")
    return value


def _ttl(value: object) -> int:
    """A lifetime: an `int` from 1 to 31,536,000 seconds (else `ConfigError`, or `TypeError`)."""
    return _int_in_range(value, 1, MAX_TTL, "ttl")


def _int_in_range(value: object, low: int, high: int, what: str) -> int:
    """An `int` from `low` to `high`: out of range is a `ConfigError`, not an int a `TypeError`."""
    if not _is_int(value):
        raise TypeError(f"{what} must be an int")
    if not low <= value <= high:  # type: ignore[operator]
        raise ConfigError(f"{what} must be an int from {low} to {high}")
    return value  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# §3 Signing
# --------------------------------------------------------------------------------------------


def _in_date_range(value: int) -> bool:
    """Whether an integer lies in the NumericDate range."""
    return 0 <= value <= MAX_NUMERIC_DATE


def _floor_now(now: object) -> int:
    """`floor(now)` for the signer, or `ValueError` when `now` is not finite."""
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"now must be a number, not {type(now).__name__}")
    if isinstance(now, float) and not math.isfinite(now):
        raise ValueError("now is not finite")
    return math.floor(now)


class Signer:
    """Signs HS256 grant tokens with one key (spec §3)."""

    def __init__(
        self,
        secret: str | bytes,
        *,
        kid: str | None = None,
        audience: str | None = "sock8",
        issuer: str | None = None,
        ttl: int | None = 3600,
    ) -> None:
        self._key = secret_bytes(secret)
        self._kid = _optional_name(kid, "kid")
        self._audience = _optional_name(audience, "audience")
        self._issuer = _optional_name(issuer, "issuer")
        self._ttl = 3600 if ttl is None else _ttl(ttl)

    @property
    def kid(self) -> str | None:
        """The key name written into the header, if any."""
        return self._kid

    @property
    def audience(self) -> str | None:
        """The `aud` claim written into every token, if any."""
        return self._audience

    @property
    def issuer(self) -> str | None:
        """The `iss` claim written into every token, if any."""
        return self._issuer

    @property
    def ttl(self) -> int:
        """Default lifetime in seconds."""
        return self._ttl

    def sign(
        self,
        identity: str,
        channels: Iterable[str],
        *,
        now: float | None = None,
        ttl: int | None = None,
        jti: str | None = None,
    ) -> str:
        """Sign a token for `identity` granting exactly `channels` (sorted, de-duplicated)."""
        if not isinstance(identity, str):
            raise TypeError("identity must be a str")
        if not _is_encodable_str(identity):
            raise InvalidClaims("identity must be a non-empty str")
        if isinstance(channels, (str, bytes)):
            raise TypeError("channels must be an iterable of str, not one str")
        if jti is not None and not isinstance(jti, str):
            raise TypeError("jti must be a str")
        wire_ids: set[str] = set()
        for channel in channels:
            if not isinstance(channel, str):
                raise TypeError("each channel must be a str")
            if not _is_wire_id(channel):
                raise ChannelError(f"invalid channel {channel!r}")
            wire_ids.add(channel)
        if len(wire_ids) > MAX_CHANNELS:
            raise InvalidClaims(f"more than {MAX_CHANNELS} channels")
        # Wire ids are ASCII, so code-point order is UTF-8 byte order.
        ordered = sorted(wire_ids, key=lambda wire_id: wire_id.encode("utf-8"))
        lifetime = self._ttl if ttl is None else _ttl(ttl)
        if jti is None:
            jti = b64url_encode(os.urandom(16))
        elif not _is_encodable_str(jti):
            raise InvalidClaims("jti must be a non-empty str")
        iat = _floor_now(time.time() if now is None else now)
        exp = iat + lifetime
        if not (_in_date_range(iat) and _in_date_range(exp)):
            raise ValueError("iat or exp outside the NumericDate range")

        header: dict[str, object] = {"alg": "HS256"}
        if self._kid is not None:
            header["kid"] = self._kid
        header["typ"] = "JWT"
        payload: dict[str, object] = {"sub": identity}
        if self._audience is not None:
            payload["aud"] = self._audience
        if self._issuer is not None:
            payload["iss"] = self._issuer
        payload["iat"] = iat
        payload["exp"] = exp
        payload["jti"] = jti
        payload["channels"] = ordered

        signing_input = (
            b64url_encode(canonical_json(header).encode("utf-8"))
            + "."
            + b64url_encode(canonical_json(payload).encode("utf-8"))
        )
        mac = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        token = signing_input + "." + b64url_encode(mac)
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidClaims(f"token longer than {MAX_TOKEN_BYTES} bytes")
        return token


# --------------------------------------------------------------------------------------------
# §4 Verification
# --------------------------------------------------------------------------------------------


def _is_numeric_date(value: object) -> bool:
    """A JSON number (never a bool) from 0 to 253402300799, compared exactly for ints."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= MAX_NUMERIC_DATE
    if isinstance(value, float):
        return 0.0 <= value <= MAX_NUMERIC_DATE
    return False


class Grants:
    """What a verified token allows: an immutable set of exact channel ids."""

    def __init__(
        self,
        identity: str,
        channels: tuple[str, ...],
        expires_at: int,
        issued_at: int,
        jti: str | None,
    ) -> None:
        self._identity = identity
        self._channels = channels
        self._set = frozenset(channels)
        self._expires_at = expires_at
        self._issued_at = issued_at
        self._jti = jti

    @property
    def identity(self) -> str:
        """The token's `sub`."""
        return self._identity

    @property
    def channels(self) -> tuple[str, ...]:
        """The granted wire ids, in the token's order."""
        return self._channels

    @property
    def expires_at(self) -> int:
        """`floor(exp)`."""
        return self._expires_at

    @property
    def issued_at(self) -> int:
        """`floor(iat)`."""
        return self._issued_at

    @property
    def jti(self) -> str | None:
        """The token id, when the token has one."""
        return self._jti

    def allows(self, channel: str) -> bool:
        """Whether `channel` equals one of the granted ids; `TypeError` for a non-`str`."""
        if not isinstance(channel, str):
            raise TypeError(f"a channel is a str, not {type(channel).__name__}")
        return channel in self._set

    def __contains__(self, channel: object) -> bool:
        return isinstance(channel, str) and channel in self._set

    def __len__(self) -> int:
        return len(self._channels)

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)


def _key_ring(secret: object) -> dict[str | None, bytes]:
    """The verifier's keys by name (`None` for the unnamed key), or `ConfigError`."""
    if isinstance(secret, (str, bytes)):
        return {None: secret_bytes(secret)}
    if not isinstance(secret, Mapping):
        raise TypeError(f"a secret is str, bytes or a mapping, not {type(secret).__name__}")
    if len(secret) == 0:
        raise ConfigError("no keys")
    ring: dict[str | None, bytes] = {}
    for name, value in secret.items():
        ring[_optional_name(name, "key name")] = secret_bytes(value)
    return ring


def _check_claims(
    claims: dict[str, Any],
    *,
    audience: str | None,
    issuer: str | None,
    max_channels: int,
) -> None:
    """Step 11 of spec §4: every failure is `InvalidClaims`, checked in the spec's order."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or sub == "":
        raise InvalidClaims("sub must be a non-empty string")
    if "exp" not in claims or not _is_numeric_date(claims["exp"]):
        raise InvalidClaims("exp must be a NumericDate")
    if "iat" not in claims or not _is_numeric_date(claims["iat"]):
        raise InvalidClaims("iat must be a NumericDate")
    if "nbf" in claims and not _is_numeric_date(claims["nbf"]):
        raise InvalidClaims("nbf must be a NumericDate")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise InvalidClaims("jti must be a string")
    channels = claims.get("channels")
    if not isinstance(channels, list):
        raise InvalidClaims("channels must be a list")
    if len(channels) > max_channels:
        raise InvalidClaims(f"more than {max_channels} channels")
    for channel in channels:
        if not _is_wire_id(channel):
            raise InvalidClaims(f"invalid channel {channel!r}")
    if audience is not None:
        if "aud" not in claims:
            raise InvalidClaims("aud is missing")
        aud = claims["aud"]
        if isinstance(aud, str):
            if aud != audience:
                raise InvalidClaims("wrong audience")
        elif isinstance(aud, list):
            if not aud or not all(isinstance(item, str) for item in aud) or audience not in aud:
                raise InvalidClaims("wrong audience")
        else:
            raise InvalidClaims("aud must be a string or a list of strings")
    elif "aud" in claims:
        raise InvalidClaims("aud present but no audience is configured")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidClaims("wrong issuer")


def _verify_now(now: object) -> float:
    """The verifier's `now`: a finite number (spec §4), else `ValueError` (or `TypeError`)."""
    if now is None:
        return time.time()
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"now must be a number, not {type(now).__name__}")
    try:
        current = float(now)
    except OverflowError:
        raise ValueError("now is out of range") from None
    if not math.isfinite(current):
        raise ValueError("now is not finite")
    return current


class Verifier:
    """Verifies HS256 grant tokens strictly (spec §4)."""

    def __init__(
        self,
        secret: str | bytes | Mapping[str | None, str | bytes],
        *,
        audience: str | None = "sock8",
        issuer: str | None = None,
        leeway: float | None = 0,
        max_token_bytes: int | None = MAX_TOKEN_BYTES,
        max_depth: int | None = MAX_JSON_DEPTH,
        max_channels: int | None = MAX_CHANNELS,
    ) -> None:
        self._keys = _key_ring(secret)
        self._audience = _optional_name(audience, "audience")
        self._issuer = _optional_name(issuer, "issuer")
        # `None` means the default for every option (spec, "Argument types").
        leeway = 0 if leeway is None else leeway
        if isinstance(leeway, bool) or not isinstance(leeway, (int, float)):
            raise TypeError("leeway must be a number of seconds")
        if not (math.isfinite(leeway) and 0 <= leeway <= MAX_LEEWAY):
            raise ConfigError(f"leeway must be a finite number from 0 to {MAX_LEEWAY}")
        self._leeway = float(leeway)

        def limit(value: int | None, low: int, high: int, what: str) -> int:
            return high if value is None else _int_in_range(value, low, high, what)

        self._max_token_bytes = limit(max_token_bytes, 1, MAX_TOKEN_BYTES, "max_token_bytes")
        self._max_depth = limit(max_depth, 2, MAX_JSON_DEPTH, "max_depth")
        self._max_channels = limit(max_channels, 0, MAX_CHANNELS, "max_channels")

    @property
    def audience(self) -> str | None:
        """The audience a token must carry, or `None` for tokens without `aud`."""
        return self._audience

    @property
    def issuer(self) -> str | None:
        """The issuer a token must carry, or `None` to ignore `iss`."""
        return self._issuer

    @property
    def leeway(self) -> float:
        """Seconds of clock skew tolerated on `exp`, `nbf` and `iat`."""
        return self._leeway

    @property
    def kids(self) -> tuple[str | None, ...]:
        """Names of the configured keys."""
        return tuple(self._keys)

    def _json_object(self, segment: bytes, what: str) -> dict[str, Any]:
        """Steps 4 and 10: canonical base64url holding a strict JSON object."""
        try:
            return strict_json_object(b64url_decode(segment), self._max_depth)
        except _Rejected as exc:
            raise MalformedToken(f"{what}: {exc}") from None

    def verify(self, token: str | bytes, *, now: float | None = None) -> Grants:
        """Verify `token`, running the checks of spec §4 in order."""
        current = _verify_now(now)
        # Step 1.
        if isinstance(token, str):
            try:
                data = token.encode("utf-8")
            except UnicodeEncodeError:
                raise MalformedToken("token contains a lone surrogate") from None
        elif isinstance(token, bytes):
            data = bytes(token)
        else:
            raise TypeError(f"a token is str or bytes, not {type(token).__name__}")
        # Step 2.
        if len(data) > self._max_token_bytes:
            raise MalformedToken(f"token longer than {self._max_token_bytes} bytes")
        # Step 3.
        segments = data.split(b".")
        if len(segments) != 3:
            raise MalformedToken("a token has exactly three segments")
        header_segment, payload_segment, signature_segment = segments
        # Step 4.
        header = self._json_object(header_segment, "header")
        # Step 5.
        if header.get("alg") != "HS256":
            raise MalformedToken("alg must be HS256")
        # Step 6.
        if "crit" in header:
            raise MalformedToken("crit is not supported")
        # Step 7.
        kid = header.get("kid")
        if "kid" in header and not isinstance(kid, str):
            raise MalformedToken("kid must be a string")
        if kid not in self._keys:
            raise UnknownKey(f"no key named {kid!r}")
        key = self._keys[kid]
        # Step 8.
        try:
            signature = b64url_decode(signature_segment)
        except _Rejected as exc:
            raise MalformedToken(f"signature: {exc}") from None
        if len(signature) != 32:
            raise BadSignature("an HS256 signature is 32 bytes")
        # Step 9.
        expected = hmac.new(key, header_segment + b"." + payload_segment, hashlib.sha256)
        if not hmac.compare_digest(expected.digest(), signature):
            raise BadSignature("signature mismatch")
        # Step 10.
        claims = self._json_object(payload_segment, "payload")
        # Step 11.
        _check_claims(
            claims,
            audience=self._audience,
            issuer=self._issuer,
            max_channels=self._max_channels,
        )
        # Steps 12-14, in IEEE-754 double precision exactly as written.
        leeway = self._leeway
        if float(claims["exp"]) <= current - leeway:
            raise TokenExpired("token expired")
        if "nbf" in claims and float(claims["nbf"]) > current + leeway:
            raise TokenNotYetValid("token not valid yet (nbf)")
        if float(claims["iat"]) > current + leeway:
            raise TokenNotYetValid("token issued in the future (iat)")
        jti = claims.get("jti")
        return Grants(
            identity=claims["sub"],
            channels=tuple(claims["channels"]),
            expires_at=math.floor(claims["exp"]),
            issued_at=math.floor(claims["iat"]),
            jti=jti,
        )
