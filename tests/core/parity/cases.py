"""The explicit inputs of the parity tests, by section of docs/spec.md, with what the spec says
they give where the oracle itself is pinned (the nasty templates, wire ids and tokens).

`SETTLED_CASES` at the end pins the inputs on which the two once disagreed (argument types,
`None` defaults, decimal rounding), each now settled by docs/spec.md."""

from __future__ import annotations

import base64
from collections.abc import Callable
from types import ModuleType

from sock8 import errors

from tests.core.parity.compare import verify_view
from tests.core.parity.crafting import (
    ABSENT,
    HEADER,
    MAX_DATE,
    MAX_TTL,
    NOW,
    S1,
    S2,
    S3,
    claims,
    craft,
    dumps,
    nest,
    time_token,
)
from tests.support.jws import b64, signed

# --------------------------------------------------------------------------------------------
# §1 Channel ids
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# §2 Keys, and the settings of signers (§3) and verifiers (§4)
# --------------------------------------------------------------------------------------------

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


KEY_RINGS: list[object] = [
    {"k1": S1, "k2": S2, None: S3},
    {"k1": S1},
    {None: S1},
    {},
    {"k1": b"short"},
    {"k1": S1, "k2": b"-----BEGIN" + b"x" * 40},
]


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


# --------------------------------------------------------------------------------------------
# §3 Signing
# --------------------------------------------------------------------------------------------


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


SIGN_TYPE_EDGES: list[tuple[str, dict[str, object]]] = [
    ("now-huge-int", {"now": 10**30}),
    ("ttl-huge-int", {"ttl": 2**64}),
]


# --------------------------------------------------------------------------------------------
# §4 Verification: crafted tokens (valid MAC, hand-made header and payload)
# --------------------------------------------------------------------------------------------

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
RAW_MEMBERS += [b'"x":' + nest(depth, "array") + b"," for depth in range(11)]
RAW_MEMBERS += [b'"x":' + nest(depth, "object") + b"," for depth in range(11)]
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


# --------------------------------------------------------------------------------------------
# §4 Verification: explicit nasty tokens
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
    return signed(f"{header}.{payload}", key)


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
    ("depth-8", _token(payload=b'{"x":' + nest(7, "array") + b"," + dumps(claims())[1:]), {}, NOW),
    ("depth-9", _token(payload=b'{"x":' + nest(8, "array") + b"," + dumps(claims())[1:]), {}, NOW),
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
    token, now = time_token(text, claim, nudge, 0)
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
