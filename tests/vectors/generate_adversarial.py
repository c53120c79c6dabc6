"""Writes adversarial.json: hostile tokens, secrets, channel ids, templates and grant probes, each
with the outcome docs/spec.md prescribes and the item of the security checklist it covers.

The checklist is §2 of the project's security research (copied into the corpus under
"checklist"). Every entry names one item; tests/core/test_hostile_input.py and
rust/tests/adversarial.rs both read the corpus and assert that every item from 1 to 10 is
covered.

Standard library only, so the corpus tests sock8 rather than echoes it. Deterministic: running it
twice writes the same file.

Run from the repository root: python tests/vectors/generate_adversarial.py

Representations (JSON cannot hold every hostile input literally):
- "token" / "id" / "probe" / "template": the text itself;
- "token_pieces" / "id_pieces" / "probe_pieces" / "template_pieces": `[[text, times], ...]`,
  concatenated, for inputs of a megabyte (the corpus stays small);
- "token_hex" / "secret_hex": raw bytes that are not UTF-8 text;
- "token_escaped" / "id_escaped" / "probe_escaped" / "value_escaped": text holding a lone
  surrogate, which only a Python `str` can: the JSON string holds `\\uXXXX` escapes that Python
  decodes with `json.loads('"' + text + '"')`. The Rust core only ever sees UTF-8 bytes, so
  cargo test skips these (their byte-level twins are "token_hex" entries).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SECRET = "adversarial-secret-0123456789abcdef-0123456789"
OTHER = "another-adversarial-secret-0123456789abcdef"
NOW = 1_700_000_000
# Far enough ahead that PyJWT, which reads the real clock, sees these tokens as live.
FAR = 4_102_444_800
MAX_DATE = 253_402_300_799
MAX_TOKEN_BYTES = 524_288
HEADER: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
GOOD: dict[str, Any] = {
    "sub": "u1",
    "aud": "sock8",
    "iat": NOW,
    "exp": FAR,
    "jti": "j1",
    "channels": ["admin.logs", "chat.r%201##roomId.messages"],
}
# Inputs longer than this are stored as pieces.
LITERAL_LIMIT = 2048

CHECKLIST = {
    "1": "HS256 pinned by configuration; header alg must be exactly HS256.",
    "2": "Secret: bytes, at least 32, refused at construction otherwise; PEM/SSH/JSON-looking "
    "secrets refused.",
    "3": "Strict compact parsing: exactly three segments, bounded split, total size cap before "
    "decoding.",
    "4": "Strict base64url: alphabet check, no '=', canonical trailing bits.",
    "5": "Header and payload must be JSON objects, UTF-8, no duplicate names, nesting limit kept.",
    "6": "crit present means reject; kid string only and only as an in-memory lookup; "
    "jwk/jku/x5u/x5c ignored.",
    "7": "MAC over the literal received segments, compared with verify_slice; exact 32-byte "
    "length.",
    "8": "Claims: typed NumericDate checks with explicit bounded leeway and injectable clock; "
    "exact aud/iss equality; sub string.",
    "9": "Grants: list of validated channel strings; authorization is exact segment comparison "
    "with documented wildcard rules; same validator on issue and check.",
    "10": "Every failure is a library exception; no panic, recursion or overflow errors leak; "
    "messages never echo the secret or expected MAC.",
}

B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# --- encoding helpers -------------------------------------------------------------------------


def b64(data: bytes) -> str:
    """Canonical base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj: Any) -> bytes:
    """JSON as sock8 and PyJWT write it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def mac(signing_input: str | bytes, secret: str | bytes = SECRET) -> str:
    """base64url(HMAC-SHA256(secret, signing_input))."""
    key = secret.encode() if isinstance(secret, str) else secret
    data = signing_input.encode() if isinstance(signing_input, str) else signing_input
    return b64(hmac.new(key, data, hashlib.sha256).digest())


def token(
    claims: Any = None,
    header: Any = None,
    *,
    secret: str | bytes = SECRET,
    raw_header: bytes | None = None,
    raw_payload: bytes | None = None,
) -> str:
    """A compact JWS over the given header and payload, MACed with `secret`."""
    h = raw_header if raw_header is not None else compact(HEADER if header is None else header)
    p = raw_payload if raw_payload is not None else compact(GOOD if claims is None else claims)
    signing_input = f"{b64(h)}.{b64(p)}"
    return f"{signing_input}.{mac(signing_input, secret)}"


def claims(**changes: Any) -> dict[str, Any]:
    """GOOD with members changed; `...` removes one."""
    out = dict(GOOD)
    for name, value in changes.items():
        if value is ...:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def with_member(raw: bytes, member: bytes) -> bytes:
    """A compact JSON object with one more raw member text appended (for duplicates, NaN…)."""
    return raw[:-1] + b"," + member + b"}"


def flip_trailing_bit(segment: str) -> str:
    """The same segment with the lowest unused bit of its last character set: the same bytes
    to a lenient decoder, a second spelling of them to a strict one."""
    last = segment[-1]
    return segment[:-1] + B64_ALPHABET[B64_ALPHABET.index(last) | 1]


def with_trailing_bits(data: bytes) -> tuple[bytes, str]:
    """Bytes whose length leaves unused bits (len % 3 != 0), and their non-canonical spelling."""
    while len(data) % 3 == 0:
        data += b" "
    return data, flip_trailing_bit(b64(data))


def split3(tok: str) -> tuple[str, str, str]:
    """The three segments of a compact token."""
    head, payload, sig = tok.split(".")
    return head, payload, sig


GOOD_TOKEN = token()
HEAD, PAYLOAD, SIG = split3(GOOD_TOKEN)


def token_with_sig_char(chars: str) -> str:
    """A valid token whose signature contains one of `chars` (found by varying the jti)."""
    for i in range(10_000):
        tok = token(claims(jti=f"j{i}"))
        if any(c in split3(tok)[2] for c in chars):
            return tok
    raise AssertionError("no signature with " + chars)


def deep(levels: int, closed: bool = True) -> bytes:
    """`levels` nested arrays, closed or left open."""
    return b"[" * levels + (b"]" * levels if closed else b"")


# --- representation helpers -------------------------------------------------------------------


def run_length(text: str, start: int, unit: str) -> int:
    """How many times `unit` repeats from `start` (galloping, so a megabyte run costs little)."""
    if not text.startswith(unit, start):
        return 0
    low, high = 1, 2
    while text.startswith(unit * high, start):
        low, high = high, high * 2
    while high - low > 1:  # text repeats `unit` `low` times but not `high` times
        middle = (low + high) // 2
        if text.startswith(unit * middle, start):
            low = middle
        else:
            high = middle
    return low


def pieces(text: str) -> list[list[Any]]:
    """`text` as [[text, times], ...]: long runs of a repeated unit (up to 16 characters, the
    period of base64 over a repeated 4-byte JSON item) become one piece."""
    out: list[list[Any]] = []
    literal_start = 0
    i = 0
    while i < len(text):
        best_unit, best_times = 0, 0
        for unit in (1, 2, 3, 4, 8, 12, 16):
            chunk = text[i : i + unit]
            if len(chunk) < unit:
                break
            # A run shorter than 64 characters is not worth a piece; check that cheaply first.
            if text[i : i + 64] != (chunk * (64 // unit + 1))[:64]:
                continue
            times = run_length(text, i, chunk)
            if times * unit > best_unit * best_times:
                best_unit, best_times = unit, times
        if best_times:
            if literal_start < i:
                out.append([text[literal_start:i], 1])
            out.append([text[i : i + best_unit], best_times])
            i += best_unit * best_times
            literal_start = i
        else:
            i += 1
    if literal_start < len(text):
        out.append([text[literal_start:], 1])
    assert "".join(t * n for t, n in out) == text
    return out


def text_field(field: str, value: str | bytes) -> dict[str, Any]:
    """The JSON representation of one hostile input under `field` (see the module docstring)."""
    if isinstance(value, bytes):
        raw = value
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            return {f"{field}_hex": raw.hex()}
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        escaped = json.dumps(value, ensure_ascii=True)[1:-1]
        return {f"{field}_escaped": escaped}
    if len(value) > LITERAL_LIMIT:
        return {f"{field}_pieces": pieces(value)}
    return {field: value}


# --- tokens -----------------------------------------------------------------------------------


def tok_case(
    name: str,
    checklist: int,
    tok: str | bytes,
    expect: str,
    *,
    now: float = NOW + 10,
    pyjwt_accepts: bool = False,
    message_any: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One token entry. `pyjwt_accepts`: PyJWT's `jwt.decode(token, SECRET,
    algorithms=["HS256"], audience="sock8")` accepts it (tests/core/test_hostile_input.py checks
    that against the installed PyJWT). `message_any`: the error message contains one of these, which
    is how the corpus shows *which* check refused the input (the size check before decoding)."""
    case: dict[str, Any] = {"name": name, "checklist": checklist}
    case.update(text_field("token", tok))
    case["now"] = now
    case.update(extra)
    case["expect"] = expect
    if message_any:
        case["message_any"] = message_any
    if pyjwt_accepts:
        case["pyjwt"] = "accepts"
    if expect == "BadSignature" and isinstance(tok, str) and tok.count(".") == 2:
        # The MAC the verifier computes; it must never appear in the error message.
        head, payload, _ = split3(tok)
        case["expected_mac"] = mac(f"{head}.{payload}")
    return case


def big_signed_token(size: int, exp: int = FAR) -> str:
    """A correctly MACed, otherwise valid token of at least `size` bytes (a padding claim)."""
    base = claims(exp=exp, pad="")
    overhead = len(token(base))
    pad = "A" * (((size - overhead) * 3) // 4 + 3)
    return token(claims(exp=exp, pad=pad))


def alg_cases() -> list[dict[str, Any]]:
    none_header = b64(compact({"alg": "none", "typ": "JWT"}))
    ok_payload = PAYLOAD
    public_pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        "-----END PUBLIC KEY-----\n"
    )
    cases = [
        tok_case(
            "alg none, signature stripped", 1, f"{none_header}.{ok_payload}.", "MalformedToken"
        ),
        tok_case(
            "alg none with a valid HS256 MAC",
            1,
            token(header={"alg": "none", "typ": "JWT"}),
            "MalformedToken",
        ),
    ]
    for alg in [
        "None",
        "NONE",
        "nOnE",
        "hs256",
        "Hs256",
        "HS384",
        "HS512",
        "RS256",
        "ES256",
        "PS256",
        "EdDSA",
        "HS256 ",
        " HS256",
        "HS256\u0000",
        "HS2560",
        "HS25",
        "",
    ]:
        cases.append(
            tok_case(f"alg {alg!r}", 1, token(header={"alg": alg, "typ": "JWT"}), "MalformedToken")
        )
    for label, value in [
        ("a list", ["HS256"]),
        ("a number", 256),
        ("null", None),
        ("true", True),
        ("an object", {"name": "HS256"}),
    ]:
        cases.append(tok_case(f"alg {label}", 1, token(header={"alg": value}), "MalformedToken"))
    cases += [
        tok_case("alg missing", 1, token(header={"typ": "JWT"}), "MalformedToken"),
        tok_case("header an empty object", 1, token(header={}), "MalformedToken"),
        tok_case(
            "alg only in the payload",
            1,
            token(claims(alg="HS256"), header={"typ": "JWT"}),
            "MalformedToken",
        ),
        tok_case(
            "alg spelled with escapes is still HS256",
            1,
            token(raw_header=b'{"alg":"\\u0048S256","typ":"JWT"}'),
            "ok",
        ),
        tok_case(
            "alg RS256 MACed with the public key's PEM text (algorithm confusion)",
            1,
            token(header={"alg": "RS256", "typ": "JWT"}, secret=public_pem),
            "MalformedToken",
        ),
        tok_case(
            "JWE compact (alg dir, five segments)",
            1,
            ".".join([b64(compact({"alg": "dir", "enc": "A256GCM"})), "", "aXY", "Y3Q", "dGFn"]),
            "MalformedToken",
        ),
        tok_case(
            "alg none then HS256 (duplicate; a last-wins parser sees HS256)",
            1,
            token(raw_header=b'{"alg":"none","alg":"HS256"}'),
            "MalformedToken",
        ),
    ]
    return cases


def key_cases() -> list[dict[str, Any]]:
    public_pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        "-----END PUBLIC KEY-----\n"
    )
    ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    return [
        tok_case("MACed with the empty key", 2, token(secret=""), "BadSignature"),
        tok_case("MACed with a 6-byte key", 2, token(secret="secret"), "BadSignature"),
        tok_case(
            "MACed with the secret's first 31 bytes", 2, token(secret=SECRET[:31]), "BadSignature"
        ),
        tok_case(
            "MACed with the secret and a trailing newline",
            2,
            token(secret=SECRET + "\n"),
            "BadSignature",
        ),
        tok_case(
            "MACed with a public key's PEM text (algorithm confusion)",
            2,
            token(secret=public_pem),
            "BadSignature",
        ),
        tok_case(
            "MACed with an SSH public key line (CVE-2022-29217 class)",
            2,
            token(secret=ssh),
            "BadSignature",
        ),
    ]


def structure_cases() -> list[dict[str, Any]]:
    size_words = ["524288", "byte"]
    big = big_signed_token(1 << 20)
    over = big_signed_token(MAX_TOKEN_BYTES + 1)
    limit_token = GOOD_TOKEN
    return [
        tok_case("empty token", 3, "", "MalformedToken"),
        tok_case("one segment", 3, HEAD, "MalformedToken"),
        tok_case("two segments", 3, f"{HEAD}.{PAYLOAD}", "MalformedToken"),
        tok_case("four segments", 3, f"{GOOD_TOKEN}.{SIG}", "MalformedToken"),
        tok_case("four segments, last empty", 3, f"{GOOD_TOKEN}.", "MalformedToken"),
        tok_case("three empty segments", 3, "..", "MalformedToken"),
        tok_case("only dots", 3, ".....", "MalformedToken"),
        tok_case("leading space", 3, " " + GOOD_TOKEN, "MalformedToken"),
        tok_case("trailing newline", 3, GOOD_TOKEN + "\n", "MalformedToken"),
        tok_case("trailing NUL", 3, GOOD_TOKEN + "\u0000", "MalformedToken"),
        tok_case("Bearer prefix left on", 3, "Bearer " + GOOD_TOKEN, "MalformedToken"),
        tok_case("dots percent-encoded", 3, GOOD_TOKEN.replace(".", "%2E"), "MalformedToken"),
        tok_case(
            "a million dots: refused by size before any split",
            3,
            "." * 1_000_000,
            "MalformedToken",
            message_any=size_words,
        ),
        tok_case(
            "1 MiB of valid-looking segments, correctly MACed: refused by size",
            3,
            big,
            "MalformedToken",
            pyjwt_accepts=True,
            message_any=size_words,
        ),
        tok_case(
            "1 MiB whose header is also broken: the size check runs before decoding",
            3,
            "!!!!" + big[4:],
            "MalformedToken",
            message_any=size_words,
        ),
        tok_case(
            "just over the default limit, correctly MACed",
            3,
            over,
            "MalformedToken",
            message_any=size_words,
        ),
        tok_case(
            "exactly at a configured limit",
            3,
            limit_token,
            "ok",
            verifier={"max_token_bytes": len(limit_token)},
        ),
        tok_case(
            "one byte over a configured limit",
            3,
            limit_token,
            "MalformedToken",
            verifier={"max_token_bytes": len(limit_token) - 1},
            message_any=[str(len(limit_token) - 1)],
        ),
    ]


def base64_cases() -> list[dict[str, Any]]:
    dash_sig = token_with_sig_char("-")
    under_sig = token_with_sig_char("_")
    dh, dp, ds = split3(dash_sig)
    uh, up, us = split3(under_sig)
    header_bytes, header_flipped = with_trailing_bits(compact(HEADER))
    payload_bytes, payload_flipped = with_trailing_bits(compact(GOOD))
    bits_head = b64(header_bytes)
    bits_payload = b64(payload_bytes)
    head_for_payload = b64(compact(HEADER))
    return [
        tok_case(
            "signature padded with one '='",
            4,
            GOOD_TOKEN + "=",
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case("signature padded with '=='", 4, GOOD_TOKEN + "==", "MalformedToken"),
        tok_case(
            "header padded (MAC over the padded text)",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{HEAD}=.{PAYLOAD}"),
            "MalformedToken",
        ),
        tok_case(
            "payload padded (MAC over the padded text)",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{HEAD}.{PAYLOAD}=="),
            "MalformedToken",
        ),
        tok_case(
            "signature in the standard alphabet ('+' for '-')",
            4,
            f"{dh}.{dp}.{ds.replace('-', '+')}",
            "MalformedToken",
        ),
        tok_case(
            "signature in the standard alphabet ('/' for '_')",
            4,
            f"{uh}.{up}.{us.replace('_', '/')}",
            "MalformedToken",
        ),
        tok_case(
            "signature as standard padded base64",
            4,
            f"{HEAD}.{PAYLOAD}.{base64.b64encode(base64.urlsafe_b64decode(SIG + '=')).decode()}",
            "MalformedToken",
        ),
        tok_case(
            "signature with non-zero trailing bits",
            4,
            f"{HEAD}.{PAYLOAD}.{flip_trailing_bit(SIG)}",
            "MalformedToken",
        ),
        tok_case(
            "header with non-zero trailing bits (MAC over that text)",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{header_flipped}.{PAYLOAD}"),
            "MalformedToken",
        ),
        tok_case(
            "header with canonical trailing bits is fine",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{bits_head}.{PAYLOAD}"),
            "ok",
        ),
        tok_case(
            "payload with non-zero trailing bits (MAC over that text)",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{head_for_payload}.{payload_flipped}"),
            "MalformedToken",
        ),
        tok_case(
            "payload with canonical trailing bits is fine",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{head_for_payload}.{bits_payload}"),
            "ok",
        ),
        tok_case(
            "signature length 4k+1",
            4,
            f"{HEAD}.{PAYLOAD}.{SIG}AA",
            "MalformedToken",
        ),
        tok_case(
            "space inside the signature",
            4,
            f"{HEAD}.{PAYLOAD}.{SIG[:10]} {SIG[10:]}",
            "MalformedToken",
        ),
        tok_case(
            "newline inside the payload (MAC over that text)",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{HEAD}.{PAYLOAD[:10]}\n{PAYLOAD[10:]}"),
            "MalformedToken",
        ),
        tok_case(
            "newline inside the payload under the old MAC",
            4,
            f"{HEAD}.{PAYLOAD[:10]}\n{PAYLOAD[10:]}.{SIG}",
            "BadSignature",
        ),
        tok_case("'%3D' padding", 4, f"{GOOD_TOKEN}%3D", "MalformedToken"),
        tok_case("non-ASCII letter in the header", 4, f"é{HEAD}.{PAYLOAD}.{SIG}", "MalformedToken"),
        tok_case(
            "'*' in the payload (MAC over that text)",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{HEAD}.*{PAYLOAD}"),
            "MalformedToken",
        ),
        tok_case("empty header segment", 4, f".{PAYLOAD}.{SIG}", "MalformedToken"),
        tok_case(
            "empty payload segment (MAC over it)",
            4,
            (lambda si: f"{si}.{mac(si)}")(f"{HEAD}."),
            "MalformedToken",
        ),
    ]


def json_cases() -> list[dict[str, Any]]:
    raw = compact(GOOD)
    bom = b"\xef\xbb\xbf"
    deep_header_open = b'{"alg":"HS256","x":' + deep(100_000, closed=False)
    deep_object_header = b'{"alg":"HS256","x":' + b'{"ab":' * 50_000
    nested_dup = compact(claims(x={"a": 1})).replace(b'{"a":1}', b'{"a":1,"a":2}')
    many = {f"k{i}": i for i in range(40)}
    many_dup = compact(claims(**many))[:-1] + b',"k37":0}'
    return [
        tok_case(
            "byte-order mark before the header JSON",
            5,
            token(raw_header=bom + compact(HEADER)),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "byte-order mark before the payload JSON",
            5,
            token(raw_payload=bom + raw),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "header in UTF-16",
            5,
            token(raw_header=json.dumps(HEADER).encode("utf-16")),
            "MalformedToken",
        ),
        tok_case(
            "0xFF byte inside a header string",
            5,
            token(raw_header=b'{"alg":"HS256","x":"\xff"}'),
            "MalformedToken",
        ),
        tok_case(
            "overlong UTF-8 '/' in the payload",
            5,
            token(raw_payload=with_member(raw, b'"x":"\xc0\xaf"')),
            "MalformedToken",
        ),
        tok_case(
            "UTF-8-encoded surrogate (CESU-8) in the payload",
            5,
            token(raw_payload=with_member(raw, b'"x":"\xed\xa0\x80"')),
            "MalformedToken",
        ),
        tok_case(
            "lone surrogate escape in sub",
            5,
            token(raw_payload=raw.replace(b'"sub":"u1"', b'"sub":"\\ud800"')),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "lone surrogate escape in a member name",
            5,
            token(raw_payload=with_member(raw, b'"\\udc00":1')),
            "MalformedToken",
        ),
        tok_case(
            "surrogate pair in the wrong order",
            5,
            token(raw_payload=with_member(raw, b'"x":"\\udc00\\ud800"')),
            "MalformedToken",
        ),
        tok_case(
            "valid surrogate pair escape is fine",
            5,
            token(raw_payload=with_member(raw, b'"x":"\\ud83d\\ude00"')),
            "ok",
        ),
        tok_case(
            "duplicate sub (a last-wins parser reads 'admin')",
            5,
            token(raw_payload=with_member(raw, b'"sub":"admin"')),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "duplicate channels (a last-wins parser grants admin)",
            5,
            token(
                raw_payload=with_member(compact(claims(channels=[])), b'"channels":["admin.all"]')
            ),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "duplicate exp",
            5,
            token(raw_payload=with_member(compact(claims(exp=NOW + 60)), b'"exp":4102444800')),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "duplicate sub spelled with an escape",
            5,
            token(raw_payload=with_member(raw, b'"\\u0073ub":"admin"')),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "duplicate inside an ignored nested object",
            5,
            token(raw_payload=nested_dup),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "duplicate after many members (hashed duplicate check)",
            5,
            token(raw_payload=many_dup),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "duplicate kid in the header",
            5,
            token(raw_header=b'{"alg":"HS256","kid":"a","kid":"b"}'),
            "MalformedToken",
            secrets={"a": SECRET, "b": OTHER},
        ),
        tok_case("header a JSON array", 5, token(raw_header=b'["HS256"]'), "MalformedToken"),
        tok_case("header a JSON string", 5, token(raw_header=b'"HS256"'), "MalformedToken"),
        tok_case("header null", 5, token(raw_header=b"null"), "MalformedToken"),
        tok_case("payload a JSON array", 5, token(raw_payload=b"[]"), "MalformedToken"),
        tok_case("payload a number", 5, token(raw_payload=b"1"), "MalformedToken"),
        tok_case(
            "trailing garbage after the payload",
            5,
            token(raw_payload=raw + b"x"),
            "MalformedToken",
        ),
        tok_case("two payload objects", 5, token(raw_payload=raw + raw), "MalformedToken"),
        tok_case("trailing comma", 5, token(raw_payload=raw[:-1] + b",}"), "MalformedToken"),
        tok_case(
            "single-quoted strings",
            5,
            token(raw_header=b"{'alg':'HS256'}"),
            "MalformedToken",
        ),
        tok_case(
            "a comment in the header",
            5,
            token(raw_header=b'{"alg":"HS256"/*x*/}'),
            "MalformedToken",
        ),
        tok_case(
            "raw control character in a string",
            5,
            token(raw_payload=with_member(raw, b'"x":"a\x01b"')),
            "MalformedToken",
        ),
        tok_case(
            "NaN in an ignored claim",
            5,
            token(raw_payload=with_member(raw, b'"x":NaN')),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "Infinity in an ignored claim",
            5,
            token(raw_payload=with_member(raw, b'"x":Infinity')),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "1e400 in an ignored claim",
            5,
            token(raw_payload=with_member(raw, b'"x":1e400')),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "leading zero", 5, token(raw_payload=with_member(raw, b'"x":01')), "MalformedToken"
        ),
        tok_case(
            "leading plus", 5, token(raw_payload=with_member(raw, b'"x":+1')), "MalformedToken"
        ),
        tok_case(
            "hex number", 5, token(raw_payload=with_member(raw, b'"x":0x10')), "MalformedToken"
        ),
        tok_case(
            "nesting at the limit (depth 8) is fine", 5, token(claims(x=[[[[[[[1]]]]]]])), "ok"
        ),
        tok_case(
            "nesting one past the limit (depth 9)",
            5,
            token(claims(x=[[[[[[[[1]]]]]]]])),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "nesting past a configured limit",
            5,
            token(claims(x=[[1]])),
            "MalformedToken",
            verifier={"max_depth": 2},
        ),
        tok_case(
            "100,000 nested arrays in the payload, correctly MACed",
            5,
            token(raw_payload=with_member(raw, b'"x":' + deep(100_000))),
            "MalformedToken",
            message_any=["deep", "nest", "depth"],
        ),
        tok_case(
            "100,000 unclosed arrays in the header: the parser stops at depth 9, not at the end",
            5,
            token(raw_header=deep_header_open),
            "MalformedToken",
            message_any=["deep", "nest", "depth"],
        ),
        tok_case(
            "50,000 nested objects in the header",
            5,
            token(raw_header=deep_object_header),
            "MalformedToken",
            message_any=["deep", "nest", "depth"],
        ),
        tok_case(
            "member name spelled with escapes is the same name",
            5,
            token(raw_header=b'{"\\u0061lg":"HS256"}'),
            "ok",
        ),
        tok_case(
            "whitespace around everything is fine",
            5,
            token(raw_payload=json.dumps(GOOD, indent=4).encode().replace(b"\n", b"\r\n\t ")),
            "ok",
        ),
    ]


def crit_kid_cases() -> list[dict[str, Any]]:
    attacker = "attacker-controlled-secret-0123456789abcdef"
    named = {"k1": SECRET, "k2": OTHER}
    huge_kid = "k" * 100_000
    crit_headers: list[tuple[str, dict[str, Any]]] = [
        ("['b64']", {"crit": ["b64"], "b64": False}),
        ("[]", {"crit": []}),
        ("['exp'] (a registered name)", {"crit": ["exp"]}),
        ("'exp' (not a list)", {"crit": "exp"}),
        ("null", {"crit": None}),
        ("['x'] with x present", {"crit": ["x"], "x": 1}),
    ]
    cases = [
        tok_case(f"crit {label}", 6, token(header={**HEADER, **extra}), "MalformedToken")
        for label, extra in crit_headers
    ]
    cases += [
        tok_case(
            "b64 false without crit is an ignored member",
            6,
            token(header={**HEADER, "b64": False}),
            "ok",
        ),
        tok_case("kid a number", 6, token(header={**HEADER, "kid": 1}), "MalformedToken"),
        tok_case("kid null", 6, token(header={**HEADER, "kid": None}), "MalformedToken"),
        tok_case("kid a list", 6, token(header={**HEADER, "kid": ["k1"]}), "MalformedToken"),
        tok_case("kid an object", 6, token(header={**HEADER, "kid": {"k": 1}}), "MalformedToken"),
        tok_case("kid true", 6, token(header={**HEADER, "kid": True}), "MalformedToken"),
        tok_case(
            "kid unknown", 6, token(header={**HEADER, "kid": "k3"}), "UnknownKey", secrets=named
        ),
        tok_case(
            "kid path traversal, single unnamed key",
            6,
            token(header={**HEADER, "kid": "../../../../dev/null"}),
            "UnknownKey",
            pyjwt_accepts=True,
        ),
        tok_case(
            "kid path traversal MACed with the empty key",
            6,
            token(header={**HEADER, "kid": "../../../../dev/null"}, secret=""),
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "kid SQL injection",
            6,
            token(header={**HEADER, "kid": "x' UNION SELECT 'key"}),
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "kid with a NUL after a configured name",
            6,
            token(header={**HEADER, "kid": "k1\u0000"}),
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "kid differing in case",
            6,
            token(header={**HEADER, "kid": "K1"}),
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "kid with a leading space",
            6,
            token(header={**HEADER, "kid": " k1"}),
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "kid empty string",
            6,
            token(header={**HEADER, "kid": ""}),
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "kid spelled with an escape selects the same key",
            6,
            token(raw_header=b'{"alg":"HS256","kid":"\\u006b1"}'),
            "ok",
            secrets=named,
        ),
        tok_case(
            "no kid while only named keys are configured",
            6,
            GOOD_TOKEN,
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "kid k2 on a token MACed with k1's secret: no fallback",
            6,
            token(header={**HEADER, "kid": "k2"}, secret=SECRET),
            "BadSignature",
            secrets=named,
        ),
        tok_case(
            "kid of 100 KB: refused, and the message stays short",
            6,
            token(header={**HEADER, "kid": huge_kid}),
            "UnknownKey",
            secrets=named,
        ),
        tok_case(
            "embedded jwk with the attacker's key, MACed with it",
            6,
            token(
                header={**HEADER, "jwk": {"kty": "oct", "k": b64(attacker.encode())}},
                secret=attacker,
            ),
            "BadSignature",
        ),
        tok_case(
            "jku and x5u pointing at the attacker, MACed with the attacker's key",
            6,
            token(
                header={
                    **HEADER,
                    "jku": "https://evil.example/jwks",
                    "x5u": "https://evil.example/c",
                },
                secret=attacker,
            ),
            "BadSignature",
        ),
        tok_case(
            "x5c chain in the header, MACed with the attacker's key",
            6,
            token(header={**HEADER, "x5c": ["MIIBszCCAVmgAwIBAgIU"]}, secret=attacker),
            "BadSignature",
        ),
        tok_case(
            "jwk, jku, x5u, x5c present but MACed with the real key are ignored",
            6,
            token(
                header={
                    **HEADER,
                    "jwk": {"kty": "oct", "k": "YQ"},
                    "jku": "https://evil.example/jwks",
                    "x5u": "https://evil.example/c",
                    "x5c": ["MIIB"],
                }
            ),
            "ok",
        ),
    ]
    return cases


def mac_cases() -> list[dict[str, Any]]:
    sig_bytes = base64.urlsafe_b64decode(SIG + "=")
    flipped = bytearray(sig_bytes)
    flipped[-1] ^= 1
    other_token = token(claims(sub="someone-else"))
    spaced_header = b'{"alg": "HS256", "typ": "JWT"}'
    spaced_si = f"{b64(spaced_header)}.{PAYLOAD}"
    canonical_si = f"{b64(compact(json.loads(spaced_header)))}.{PAYLOAD}"
    si = f"{HEAD}.{PAYLOAD}"
    key = SECRET.encode()
    return [
        tok_case("MACed with another secret", 7, token(secret=OTHER), "BadSignature"),
        tok_case("empty signature", 7, f"{si}.", "BadSignature"),
        tok_case("31-byte signature", 7, f"{si}.{b64(sig_bytes[:31])}", "BadSignature"),
        tok_case(
            "33 bytes: the right MAC and one more",
            7,
            f"{si}.{b64(sig_bytes + b'x')}",
            "BadSignature",
        ),
        tok_case("64 bytes: the right MAC twice", 7, f"{si}.{b64(sig_bytes * 2)}", "BadSignature"),
        tok_case(
            "the right MAC truncated to 16 bytes", 7, f"{si}.{b64(sig_bytes[:16])}", "BadSignature"
        ),
        tok_case(
            "the right MAC truncated to 1 byte", 7, f"{si}.{b64(sig_bytes[:1])}", "BadSignature"
        ),
        tok_case("last bit flipped", 7, f"{si}.{b64(bytes(flipped))}", "BadSignature"),
        tok_case("all-zero MAC", 7, f"{si}.{b64(bytes(32))}", "BadSignature"),
        tok_case(
            "signature moved from another token",
            7,
            f"{si}.{split3(other_token)[2]}",
            "BadSignature",
        ),
        tok_case(
            "MAC over a re-serialised header, not the received text",
            7,
            f"{spaced_si}.{mac(canonical_si)}",
            "BadSignature",
        ),
        tok_case(
            "payload changed under the old MAC",
            7,
            f"{HEAD}.{split3(token(claims(sub='admin')))[1]}.{SIG}",
            "BadSignature",
        ),
        tok_case(
            "MAC over the decoded JSON instead of the segments",
            7,
            f"{si}.{mac(compact(HEADER) + b'.' + compact(GOOD))}",
            "BadSignature",
        ),
        tok_case(
            "HMAC-SHA384 (48 bytes)",
            7,
            f"{si}.{b64(hmac.new(key, si.encode(), hashlib.sha384).digest())}",
            "BadSignature",
        ),
        tok_case(
            "HMAC-SHA512 truncated to 32 bytes",
            7,
            f"{si}.{b64(hmac.new(key, si.encode(), hashlib.sha512).digest()[:32])}",
            "BadSignature",
        ),
        tok_case(
            "plain SHA-256 of key and message (no HMAC)",
            7,
            f"{si}.{b64(hashlib.sha256(key + si.encode()).digest())}",
            "BadSignature",
        ),
    ]


def claim_cases() -> list[dict[str, Any]]:
    issuer = {"issuer": "https://app"}
    return [
        tok_case(
            "exp a numeric string",
            8,
            token(claims(exp=str(FAR))),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "iat a numeric string",
            8,
            token(claims(iat=str(NOW))),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "nbf a numeric string",
            8,
            token(claims(nbf="0")),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "iat true (a boolean is not a number)",
            8,
            token(claims(iat=True)),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case("exp false", 8, token(claims(exp=False)), "InvalidClaims"),
        tok_case("exp null", 8, token(claims(exp=None)), "InvalidClaims"),
        tok_case("exp a list", 8, token(claims(exp=[FAR])), "InvalidClaims"),
        tok_case("exp an object", 8, token(claims(exp={"t": FAR})), "InvalidClaims"),
        tok_case("exp a float string", 8, token(claims(exp="4.1e9")), "InvalidClaims"),
        tok_case(
            "exp 10**30 (out of range)",
            8,
            token(claims(exp=10**30)),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "exp in the year 10000",
            8,
            token(claims(exp=MAX_DATE + 1)),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case("exp at the end of year 9999 is fine", 8, token(claims(exp=MAX_DATE)), "ok"),
        tok_case(
            "exp 1e300",
            8,
            token(claims(exp=1e300)),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "iat negative",
            8,
            token(claims(iat=-1)),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "nbf negative",
            8,
            token(claims(nbf=-1)),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case("iat 0 is fine", 8, token(claims(iat=0)), "ok"),
        tok_case(
            "exp 2**53 + 1 written as an integer",
            8,
            token(raw_payload=compact(GOOD).replace(str(FAR).encode(), b"9007199254740993")),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case("exp equal to now", 8, token(claims(exp=NOW + 10)), "TokenExpired"),
        tok_case("exp a millisecond after now", 8, token(claims(exp=NOW + 10.001)), "ok"),
        tok_case(
            "exp a second ago, within a minute of leeway",
            8,
            token(claims(exp=NOW + 9)),
            "ok",
            verifier={"leeway": 60},
        ),
        tok_case(
            "exp at now minus the leeway",
            8,
            token(claims(exp=NOW - 50)),
            "TokenExpired",
            verifier={"leeway": 60},
        ),
        tok_case("nbf a second ahead", 8, token(claims(nbf=NOW + 11)), "TokenNotYetValid"),
        tok_case(
            "nbf ahead within leeway", 8, token(claims(nbf=NOW + 20)), "ok", verifier={"leeway": 10}
        ),
        tok_case("iat a second ahead", 8, token(claims(iat=NOW + 11)), "TokenNotYetValid"),
        tok_case("sub missing", 8, token(claims(sub=...)), "InvalidClaims"),
        tok_case("sub empty", 8, token(claims(sub="")), "InvalidClaims", pyjwt_accepts=True),
        tok_case("sub a number", 8, token(claims(sub=1)), "InvalidClaims"),
        tok_case("sub null", 8, token(claims(sub=None)), "InvalidClaims"),
        tok_case("sub a list", 8, token(claims(sub=["u1"])), "InvalidClaims"),
        tok_case("jti a number", 8, token(claims(jti=5)), "InvalidClaims"),
        tok_case("aud missing", 8, token(claims(aud=...)), "InvalidClaims"),
        tok_case("aud upper case", 8, token(claims(aud="SOCK8")), "InvalidClaims"),
        tok_case("aud with a trailing space", 8, token(claims(aud="sock8 ")), "InvalidClaims"),
        tok_case("aud a prefix", 8, token(claims(aud="sock")), "InvalidClaims"),
        tok_case("aud an extension", 8, token(claims(aud="sock8:publish")), "InvalidClaims"),
        tok_case("aud an empty list", 8, token(claims(aud=[])), "InvalidClaims"),
        tok_case("aud a list with a number", 8, token(claims(aud=["sock8", 1])), "InvalidClaims"),
        tok_case("aud a list with null", 8, token(claims(aud=["sock8", None])), "InvalidClaims"),
        tok_case("aud a list of others", 8, token(claims(aud=["a", "b"])), "InvalidClaims"),
        tok_case("aud an object", 8, token(claims(aud={"sock8": True})), "InvalidClaims"),
        tok_case("aud null", 8, token(claims(aud=None)), "InvalidClaims"),
        tok_case("aud a nested list", 8, token(claims(aud=[["sock8"]])), "InvalidClaims"),
        tok_case("aud a list containing it is fine", 8, token(claims(aud=["x", "sock8"])), "ok"),
        tok_case(
            "aud carried while none is expected",
            8,
            GOOD_TOKEN,
            "InvalidClaims",
            verifier={"audience": None},
        ),
        tok_case("iss missing", 8, GOOD_TOKEN, "InvalidClaims", verifier=issuer),
        tok_case(
            "iss a prefix (CVE-2024-53861 class)",
            8,
            token(claims(iss="https://ap")),
            "InvalidClaims",
            verifier=issuer,
        ),
        tok_case(
            "iss with a trailing slash",
            8,
            token(claims(iss="https://app/")),
            "InvalidClaims",
            verifier=issuer,
        ),
        tok_case(
            "iss upper case",
            8,
            token(claims(iss="HTTPS://APP")),
            "InvalidClaims",
            verifier=issuer,
        ),
        tok_case(
            "iss a list", 8, token(claims(iss=["https://app"])), "InvalidClaims", verifier=issuer
        ),
        tok_case("iss a number", 8, token(claims(iss=5)), "InvalidClaims", verifier=issuer),
        tok_case("iss exact is fine", 8, token(claims(iss="https://app")), "ok", verifier=issuer),
        tok_case(
            "a bad claim in an expired token is reported as the bad claim",
            8,
            token(claims(sub="", exp=NOW)),
            "InvalidClaims",
        ),
    ]


def grant_token_cases() -> list[dict[str, Any]]:
    bad_ids = [
        "*",
        "chat.*",
        "chat.>",
        ">",
        "#",
        "chat.#",
        "chat.{roomId}",
        "chat.r%2a##roomId",
        "chat.%41##roomId",
        "chat..x",
        ".admin",
        "admin.",
        "admin.logs\n",
        "admin logs",
        "admin\uff0elogs",
        "admin\u2024logs",
        "\u0430dmin.logs",
        "admin.logs\u0000",
        "a" * 513,
        ".".join(["a"] * 17),
        "a.%",
        "a##",
        "a.b##1x",
        "a.b##x.c##x",
        "../admin.logs",
        "admin/logs",
        "",
    ]
    cases = [
        tok_case(
            f"channel {bad[:40]!r}",
            9,
            token(claims(channels=["admin.logs", bad])),
            "InvalidClaims",
            pyjwt_accepts=True,
        )
        for bad in bad_ids
    ]
    cases += [
        tok_case(
            "channels a bare string (never iterated per character)",
            9,
            token(claims(channels="admin.logs")),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "channels an object",
            9,
            token(claims(channels={"admin.logs": True})),
            "InvalidClaims",
        ),
        tok_case("channels null", 9, token(claims(channels=None)), "InvalidClaims"),
        tok_case(
            "channels with null", 9, token(claims(channels=["admin.logs", None])), "InvalidClaims"
        ),
        tok_case(
            "channels a nested list", 9, token(claims(channels=[["admin.logs"]])), "InvalidClaims"
        ),
        tok_case("channels missing", 9, token(claims(channels=...)), "InvalidClaims"),
        tok_case(
            "one bad channel among a thousand good ones",
            9,
            token(claims(channels=[f"room.r{i}##roomId" for i in range(1000)] + ["room.*"])),
            "InvalidClaims",
        ),
        tok_case(
            "more channels than a configured maximum",
            9,
            token(claims(channels=["a", "b", "c"])),
            "InvalidClaims",
            verifier={"max_channels": 2},
        ),
        tok_case(
            "exactly a configured maximum is fine",
            9,
            token(claims(channels=["a", "b"])),
            "ok",
            verifier={"max_channels": 2},
        ),
        tok_case(
            "10,001 channels (over the default maximum)",
            9,
            token(claims(channels=["a"] * 10_001)),
            "InvalidClaims",
        ),
        tok_case("duplicate channels are fine", 9, token(claims(channels=["a", "a"])), "ok"),
        tok_case("an empty channel list is a valid token", 9, token(claims(channels=[])), "ok"),
    ]
    return cases


def boundary_cases() -> list[dict[str, Any]]:
    raw = compact(GOOD)
    return [
        tok_case(
            "non-UTF-8 bytes (0xFF) in the token",
            10,
            GOOD_TOKEN.encode()[:10] + b"\xff" + GOOD_TOKEN.encode()[10:],
            "MalformedToken",
        ),
        tok_case(
            "a UTF-8-encoded surrogate (0xED 0xA0 0x80) in the token",
            10,
            GOOD_TOKEN.encode() + b"\xed\xa0\x80",
            "MalformedToken",
        ),
        tok_case(
            "a lone surrogate in a str token",
            10,
            GOOD_TOKEN + "\ud800",
            "MalformedToken",
        ),
        tok_case(
            "exp 1e400 (overflows a double)",
            10,
            token(raw_payload=raw.replace(str(FAR).encode(), b"1e400")),
            "MalformedToken",
        ),
        tok_case(
            "exp -1e400",
            10,
            token(raw_payload=raw.replace(str(FAR).encode(), b"-1e400")),
            "MalformedToken",
        ),
        tok_case(
            "exp a 400-digit integer",
            10,
            token(raw_payload=raw.replace(str(FAR).encode(), b"1" + b"0" * 400)),
            "MalformedToken",
            pyjwt_accepts=True,
        ),
        tok_case(
            "exp the largest double",
            10,
            token(raw_payload=raw.replace(str(FAR).encode(), b"1.7976931348623157e308")),
            "InvalidClaims",
            pyjwt_accepts=True,
        ),
        tok_case(
            "exp the smallest subnormal",
            10,
            token(raw_payload=raw.replace(str(FAR).encode(), b"5e-324")),
            "TokenExpired",
        ),
        tok_case(
            "exp -0.0",
            10,
            token(raw_payload=raw.replace(str(FAR).encode(), b"-0.0")),
            "TokenExpired",
        ),
        tok_case(
            "exp with a 10,000-digit fraction",
            10,
            token(
                raw_payload=raw.replace(str(FAR).encode(), str(FAR).encode() + b"." + b"9" * 10_000)
            ),
            "ok",
        ),
        tok_case(
            "alg of 100 KB: refused, and the message stays short",
            10,
            token(header={"alg": "H" * 100_000}),
            "MalformedToken",
        ),
        tok_case(
            "a duplicate member name of 100 KB",
            10,
            token(
                raw_payload=with_member(
                    compact(claims(**{"n" * 100_000: 1})), b'"' + b"n" * 100_000 + b'":2'
                )
            ),
            "MalformedToken",
        ),
        tok_case(
            "a channel of 100 KB",
            10,
            token(claims(channels=["c" * 100_000])),
            "InvalidClaims",
        ),
        tok_case(
            "a sub of 100 KB is a valid identity",
            10,
            token(claims(sub="s" * 100_000)),
            "ok",
        ),
        tok_case(
            "wrong key: the message echoes neither secret nor MAC",
            10,
            token(claims(sub="victim"), secret=OTHER),
            "BadSignature",
        ),
    ]


def grants_section() -> list[dict[str, Any]]:
    small = ["admin.logs", "chat.r%201##roomId.messages", "user.u1##userId"]
    large = small + [f"room.r{i}##roomId" for i in range(40)]
    out: list[dict[str, Any]] = []
    probes: list[tuple[str, str, bool]] = [
        ("exact static id", "admin.logs", True),
        ("exact parameter id", "chat.r%201##roomId.messages", True),
        ("exact single-parameter id", "user.u1##userId", True),
        ("another user", "user.u2##userId", False),
        ("trailing space", "admin.logs ", False),
        ("leading space", " admin.logs", False),
        ("other case", "Admin.logs", False),
        ("trailing NUL", "admin.logs\u0000", False),
        ("trailing dot", "admin.logs.", False),
        ("a prefix", "admin", False),
        ("a child", "admin.logs.x", False),
        ("a wildcard child", "admin.*", False),
        ("a bare wildcard", "*", False),
        ("a tail wildcard", "admin.>", False),
        ("the unescaped value", "chat.r 1##roomId.messages", False),
        ("the parameter name in other case", "chat.r%201##roomid.messages", False),
        ("the parameter segment alone", "chat.r%201##roomId", False),
        ("a double escape", "chat.r%25201##roomId.messages", False),
        ("a lower-case escape", "chat.r%2a1##roomId.messages", False),
        ("a fullwidth dot", "admin\uff0elogs", False),
        ("a Cyrillic a", "\u0430dmin.logs", False),
        ("a zero-width space", "admin.logs\u200b", False),
        ("the empty string", "", False),
        ("a template", "user.{userId}", False),
        ("a million dots", "." * 1_000_000, False),
        ("a lone surrogate after a granted id", "admin.logs\ud800", False),
    ]
    for label, granted in [("3 grants", small), ("43 grants (hashed)", large)]:
        tok = token(claims(channels=sorted(granted)))
        for name, probe, allows in probes:
            entry: dict[str, Any] = {
                "name": f"{label}: {name}",
                "checklist": 9 if "million" not in name and "surrogate" not in name else 10,
                "token": tok,
                "now": NOW + 10,
            }
            entry.update(text_field("probe", probe))
            entry["allows"] = allows
            out.append(entry)
        out.append(
            {
                "name": f"{label}: a granted room among many",
                "checklist": 9,
                "token": tok,
                "now": NOW + 10,
                "probe": "room.r39##roomId" if len(granted) > 3 else "room.r0##roomId",
                "allows": len(granted) > 3,
            }
        )
    return out


# --- secrets ----------------------------------------------------------------------------------


def der(tag: int, content: bytes) -> bytes:
    """One DER TLV with a minimal length."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def filler(n: int, seed: bytes) -> bytes:
    """Deterministic pseudo-random bytes standing in for key material."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:n]


def oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, body)


def secret_section() -> list[dict[str, Any]]:
    pem_body = "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    pem = f"-----BEGIN PUBLIC KEY-----\n{pem_body}\n-----END PUBLIC KEY-----\n"
    ssh_blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    ed25519_spki = der(0x30, der(0x30, oid("1.3.101.112")) + der(0x03, b"\x00" + filler(32, b"ed")))
    ec_spki = der(
        0x30,
        der(0x30, oid("1.2.840.10045.2.1") + oid("1.2.840.10045.3.1.7"))
        + der(0x03, b"\x00\x04" + filler(64, b"ec")),
    )
    rsa_pub = der(0x30, der(0x02, b"\x00" + filler(256, b"n")) + der(0x02, b"\x01\x00\x01"))
    rsa_spki = der(
        0x30,
        der(0x30, oid("1.2.840.113549.1.1.1") + b"\x05\x00") + der(0x03, b"\x00" + rsa_pub),
    )
    pkcs8 = der(
        0x30,
        der(0x02, b"\x00")
        + der(0x30, oid("1.3.101.112"))
        + der(0x04, der(0x04, filler(32, b"sk"))),
    )
    tbs = der(
        0x30,
        der(0xA0, der(0x02, b"\x02"))
        + der(0x02, filler(16, b"serial"))
        + der(0x30, oid("1.2.840.10045.4.3.2"))
        + der(0x30, b"")
        + ec_spki,
    )
    certificate = der(
        0x30, tbs + der(0x30, oid("1.2.840.10045.4.3.2")) + der(0x03, b"\x00" + filler(70, b"sig"))
    )
    entries: list[tuple[str, str | bytes, str]] = [
        ("32 ASCII bytes", "0123456789abcdef0123456789abcdef", "ok"),
        ("64 hex digits", filler(32, b"hex").hex(), "ok"),
        ("43 base64url characters (secrets.token_urlsafe(32))", b64(filler(32, b"url")), "ok"),
        ("32 random bytes", filler(32, b"raw"), "ok"),
        ("starts with '{' but is not JSON", "{0123456789abcdef0123456789abcdef", "ok"),
        ("starts with '[' but is not JSON", "[0123456789abcdef0123456789abcdef]", "ok"),
        (
            "an API-key-like 'sk-' secret is not an SSH key",
            "sk-live-0123456789abcdef0123456789",
            "ok",
        ),
        ("mentions ssh- in the middle", "my-ssh-secret-0123456789abcdef0123456789", "ok"),
        ("fifty ASCII zeros cannot pass for DER", "0" * 50, "ok"),
        ("random bytes starting with a DER SEQUENCE tag", b"\x30" + filler(40, b"seq"), "ok"),
        ("empty", "", "ConfigError"),
        ("31 bytes", "x" * 31, "ConfigError"),
        ("30 bytes of UTF-8 in 15 characters", "\u00e9" * 15, "ConfigError"),
        ("a PEM public key", pem, "ConfigError"),
        ("a PEM public key after whitespace", "\n\t  " + pem, "ConfigError"),
        ("a PEM public key after a byte-order mark", "\ufeff" + pem, "ConfigError"),
        (
            "a PEM certificate after explanatory text",
            "subject=CN = example\nissuer=CN = example\n"
            + pem.replace("PUBLIC KEY", "CERTIFICATE"),
            "ConfigError",
        ),
        (
            "an RFC 4716 SSH2 public key",
            "---- BEGIN SSH2 PUBLIC KEY ----\n"
            f'Comment: "k"\n{ssh_blob}\n'
            "---- END SSH2 PUBLIC KEY ----\n",
            "ConfigError",
        ),
        (
            "an OpenSSH private key",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n",
            "ConfigError",
        ),
        ("ssh-ed25519", f"ssh-ed25519 {ssh_blob} user@host", "ConfigError"),
        ("ssh-rsa", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host", "ConfigError"),
        ("ssh-dss", "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5", "ConfigError"),
        (
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEez",
            "ConfigError",
        ),
        (
            "ecdsa-sha2-nistp521",
            "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAHz",
            "ConfigError",
        ),
        (
            "sk-ssh-ed25519 (a security key)",
            "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAI",
            "ConfigError",
        ),
        (
            "sk-ecdsa-sha2-nistp256 (a security key)",
            "sk-ecdsa-sha2-nistp256@openssh.com "
            "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20",
            "ConfigError",
        ),
        (
            "an SSH certificate",
            "ssh-ed25519-cert-v01@openssh.com "
            f"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t{ssh_blob}",
            "ConfigError",
        ),
        ("an SSH key after a byte-order mark", f"\ufeffssh-ed25519 {ssh_blob}", "ConfigError"),
        (
            "an authorized_keys line with options",
            f'no-pty,from="10.0.0.1" ssh-ed25519 {ssh_blob} deploy@ci',
            "ConfigError",
        ),
        ("a known_hosts line", f"github.com ssh-ed25519 {ssh_blob}", "ConfigError"),
        (
            "a symmetric JWK",
            '{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg","alg":"HS256"}',
            "ConfigError",
        ),
        (
            "an RSA JWK with spaces around it",
            ' \n{"kty": "RSA", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbW", "e": "AQAB"}\n',
            "ConfigError",
        ),
        (
            "a JWK after a byte-order mark",
            '\ufeff{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg0123456789"}',
            "ConfigError",
        ),
        (
            "a JWK set",
            '{"keys":[{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}]}',
            "ConfigError",
        ),
        (
            "a JSON array of JWKs",
            '[{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg","kid":"a"}]',
            "ConfigError",
        ),
        ("a DER Ed25519 public key (44 bytes)", ed25519_spki, "ConfigError"),
        ("a DER P-256 public key", ec_spki, "ConfigError"),
        ("a DER RSA public key (SubjectPublicKeyInfo)", rsa_spki, "ConfigError"),
        ("a DER RSA public key (PKCS#1)", rsa_pub, "ConfigError"),
        ("a DER PKCS#8 private key", pkcs8, "ConfigError"),
        ("a DER certificate", certificate, "ConfigError"),
    ]
    out = []
    for name, value, expect in entries:
        entry: dict[str, Any] = {"name": name, "checklist": 2}
        if isinstance(value, bytes):
            try:
                entry["secret"] = value.decode("utf-8")
            except UnicodeDecodeError:
                entry["secret_hex"] = value.hex()
        else:
            entry["secret"] = value
        entry["expect"] = expect
        out.append(entry)
    return out


# --- channel ids and templates ----------------------------------------------------------------

# Seven 64-character segments and one of 57: the longest wire id, 512 bytes.
LONGEST_ID = ".".join(["a" * 64] * 7 + ["b" * 57])
assert len(LONGEST_ID) == 512


def channel_section() -> list[dict[str, Any]]:
    ok: list[tuple[str, str, str, dict[str, str]]] = [
        ("static", "admin.logs", "admin.logs", {}),
        (
            "escaped space",
            "chat.r%201##roomId.messages",
            "chat.{roomId}.messages",
            {"roomId": "r 1"},
        ),
        ("escaped UTF-8", "a.%C3%A9##x", "a.{x}", {"x": "\u00e9"}),
        ("tilde kept", "a.~##x", "a.{x}", {"x": "~"}),
        ("escaped NUL is a value like any other", "a.%00##x", "a.{x}", {"x": "\u0000"}),
        ("escaped dots", "a.%2E%2E##x", "a.{x}", {"x": ".."}),
        ("escaped hashes", "a.%23%23##x", "a.{x}", {"x": "##"}),
        ("16 segments", ".".join(["s"] * 16), ".".join(["s"] * 16), {}),
        ("exactly 512 bytes", LONGEST_ID, LONGEST_ID, {}),
    ]
    out: list[dict[str, Any]] = []
    for name, wire_id, template, values in ok:
        entry: dict[str, Any] = {"name": name, "checklist": 9, "id": wire_id, "expect": "ok"}
        if template:
            entry["template"] = template
            entry["values"] = values
        out.append(entry)
    bad: list[tuple[str, str, int]] = [
        ("empty", "", 9),
        ("513 bytes", LONGEST_ID + "b", 9),
        ("17 segments", ".".join(["s"] * 17), 9),
        ("leading dot", ".a", 9),
        ("trailing dot", "a.", 9),
        ("doubled dot", "a..b", 9),
        ("path traversal", "../admin.logs", 9),
        ("slash", "admin/logs", 9),
        ("star", "*", 9),
        ("star segment", "chat.*", 9),
        ("double star", "chat.**", 9),
        ("tail wildcard", "chat.>", 9),
        ("hash", "chat.#", 9),
        ("template braces", "chat.{roomId}", 9),
        ("stray percent", "chat.%", 9),
        ("short escape", "a.%2##x", 9),
        ("empty escape", "a.%##x", 9),
        ("non-hex escape", "a.%G1##x", 9),
        ("lower-case hex", "a.%e9##x", 9),
        ("needless escape of a letter", "a.%41##x", 9),
        ("needless escape of a tilde", "a.%7E##x", 9),
        ("truncated UTF-8", "a.%C3##x", 9),
        ("overlong UTF-8", "a.%C0%AF##x", 9),
        ("UTF-8-encoded surrogate", "a.%ED%A0%80##x", 9),
        ("beyond U+10FFFF", "a.%F4%90%80%80##x", 9),
        ("empty value", "a.##x", 9),
        ("empty name", "a.b##", 9),
        ("name starting with a digit", "a.b##1x", 9),
        ("name with a hash", "a.b###x", 9),
        ("two separators", "a.b##x##y", 9),
        ("duplicate name", "a.b##x.c##x", 9),
        ("single hash", "a.b#c", 9),
        ("space", "admin logs", 9),
        ("tab", "admin.logs\t", 9),
        ("newline", "admin.logs\n", 9),
        ("NUL", "admin.logs\u0000", 9),
        ("fullwidth dot (NFKC gives '.')", "admin\uff0elogs", 9),
        ("one-dot leader (NFKC gives '.')", "admin\u2024logs", 9),
        ("fullwidth letter", "\uff41dmin.logs", 9),
        ("Cyrillic look-alike", "\u0430dmin.logs", 9),
        ("zero-width space", "admin.logs\u200b", 9),
        ("combining accent", "admin.lo\u0301gs", 9),
        ("a million dots: refused by size first", "." * 1_000_000, 10),
        ("half a million segments: refused by size first", "a." * 500_000 + "a", 10),
        ("a lone surrogate", "admin.logs\ud800", 10),
    ]
    for name, wire_id, item in bad:
        entry = {"name": name, "checklist": item}
        entry.update(text_field("id", wire_id))
        entry["expect"] = "ChannelError"
        if "million" in name or "half" in name:
            entry["message_any"] = ["512"]
        out.append(entry)
    return out


def template_section() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    renders: list[tuple[str, str, dict[str, str], str | None]] = [
        (
            "the design example",
            "chat.{roomId}.messages",
            {"roomId": "r 1"},
            "chat.r%201##roomId.messages",
        ),
        ("a dot in a value is escaped", "user.{id}", {"id": "a.b"}, "user.a%2Eb##id"),
        (
            "sock8's (dot) spelling does not collide",
            "user.{id}",
            {"id": "a(dot)b"},
            "user.a%28dot%29b##id",
        ),
        ("a percent is escaped", "user.{id}", {"id": "%41"}, "user.%2541##id"),
        ("hashes are escaped", "user.{id}", {"id": "##x"}, "user.%23%23x##id"),
        ("a star is escaped", "user.{id}", {"id": "*"}, "user.%2A##id"),
        ("path characters are escaped", "user.{id}", {"id": "../.."}, "user.%2E%2E%2F%2E%2E##id"),
        ("NUL is escaped", "user.{id}", {"id": "\u0000"}, "user.%00##id"),
        ("an empty value", "user.{id}", {"id": ""}, None),
        ("a missing value", "user.{id}", {}, None),
        ("an extra value", "user.{id}", {"id": "a", "other": "b"}, None),
        ("a value over 512 bytes once escaped", "user.{id}", {"id": "\u00e9" * 100}, None),
    ]
    for name, template, values, wire_id in renders:
        entry: dict[str, Any] = {
            "name": name,
            "checklist": 9,
            "template": template,
            "values": values,
        }
        if wire_id is None:
            entry["expect"] = "ChannelError"
        else:
            entry["expect"] = "ok"
            entry["id"] = wire_id
        out.append(entry)
    out.append(
        {
            "name": "a value of a million characters",
            "checklist": 10,
            "template": "user.{id}",
            "values": {"id": pieces("\u00e9" * 1_000_000)},
            "expect": "ChannelError",
            "message_any": ["512"],
        }
    )
    out.append(
        {
            "name": "a value with a lone surrogate",
            "checklist": 10,
            "template": "user.{id}",
            "value_escaped": {"id": "a\\ud800"},
            "expect": "ChannelError",
        }
    )
    bad_templates: list[tuple[str, str, int]] = [
        ("empty", "", 9),
        ("a dot", ".", 9),
        ("doubled dot", "a..b", 9),
        ("open brace", "{x", 9),
        ("close brace", "x}", 9),
        ("empty braces", "{}", 9),
        ("name starting with a digit", "{1x}", 9),
        ("name with a dash", "{x-y}", 9),
        ("duplicate name", "a.{x}.{x}", 9),
        ("two parameters in a segment", "a.{x}{y}", 9),
        ("star", "*", 9),
        ("star segment", "a.*", 9),
        ("space", "a b", 9),
        ("non-ASCII", "\u00e4", 9),
        ("17 segments", ".".join(["s"] * 17), 9),
        ("65-character static segment", "s" * 65, 9),
        ("65-character name", "{" + "n" * 65 + "}", 9),
        ("a million dots: refused by size first", "." * 1_000_000, 10),
        ("a million-character name: refused by size first", "{" + "x" * 1_000_000 + "}", 10),
    ]
    for name, template, item in bad_templates:
        entry = {"name": name, "checklist": item}
        entry.update(text_field("template", template))
        entry["expect"] = "ChannelError"
        if "million" in name:
            entry["message_any"] = ["1071"]
        out.append(entry)
    return out


# --- main -------------------------------------------------------------------------------------


def token_section() -> list[dict[str, Any]]:
    return (
        alg_cases()
        + key_cases()
        + structure_cases()
        + base64_cases()
        + json_cases()
        + crit_kid_cases()
        + mac_cases()
        + claim_cases()
        + grant_token_cases()
        + boundary_cases()
    )


def render() -> str:
    """The text of adversarial.json."""
    document = {
        "about": "Hostile inputs and the outcome docs/spec.md prescribes, each mapped to the "
        "security checklist; generated by generate_adversarial.py (stdlib only)",
        "checklist": CHECKLIST,
        "secret": SECRET,
        "other_secret": OTHER,
        "tokens": token_section(),
        "grants": grants_section(),
        "secrets": secret_section(),
        "channels": channel_section(),
        "templates": template_section(),
    }
    return json.dumps(document, indent=1, ensure_ascii=True) + "\n"


def main() -> None:
    """Write adversarial.json next to this script."""
    (HERE / "adversarial.json").write_text(render(), encoding="ascii")


if __name__ == "__main__":
    main()
