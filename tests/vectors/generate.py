"""Writes tokens.json: tokens built with the standard library alone, each with the outcome
docs/spec.md prescribes. Independent of sock8, so the vectors test it rather than echo it.

Run from the repository root: python tests/vectors/generate.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SECRET = "vector-secret-0123456789abcdef-0123456789"
OTHER = "another-secret-0123456789abcdef-0123456789"
NOW = 1_700_000_000
GOOD_CLAIMS: dict[str, Any] = {
    "sub": "u1",
    "aud": "sock8",
    "iat": NOW,
    "exp": NOW + 3600,
    "jti": "j1",
    "channels": ["admin.logs", "chat.r%201##roomId.messages"],
}
HEADER = {"alg": "HS256", "typ": "JWT"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def token(
    claims: Any = None,
    header: Any = None,
    *,
    secret: str = SECRET,
    raw_header: bytes | None = None,
    raw_payload: bytes | None = None,
) -> str:
    h = raw_header if raw_header is not None else compact(HEADER if header is None else header)
    p = (
        raw_payload
        if raw_payload is not None
        else compact(GOOD_CLAIMS if claims is None else claims)
    )
    signing_input = f"{b64(h)}.{b64(p)}"
    tag = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(tag)}"


def trailing_bit(last: str) -> str:
    """The same last character with its lowest unused bit set: same bytes, non-canonical text."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(last) | 1]


def claims(**changes: Any) -> dict[str, Any]:
    out = dict(GOOD_CLAIMS)
    for name, value in changes.items():
        if value is ...:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def ok(name: str, tok: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "token": tok, "now": NOW + 10, **extra, "expect": "ok"}


def err(name: str, tok: str, error: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "token": tok, "now": NOW + 10, **extra, "expect": error}


GOOD = token()
HEAD, PAYLOAD, SIG = GOOD.split(".")
RFC7515_A1 = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)
RFC7515_A1_KEY = (
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
)


def cases() -> list[dict[str, Any]]:
    return [
        ok("valid", GOOD),
        ok("valid at last moment", GOOD, now=NOW + 3599.999),
        err("expired at exp", GOOD, "TokenExpired", now=NOW + 3600),
        ok("leeway keeps it", GOOD, now=NOW + 3600, verifier={"leeway": 1}),
        err("iat in the future", GOOD, "TokenNotYetValid", now=NOW - 1),
        ok("iat in the future within leeway", GOOD, now=NOW - 1, verifier={"leeway": 1}),
        err("nbf in the future", token(claims(nbf=NOW + 20)), "TokenNotYetValid"),
        ok("fractional times", token(claims(iat=NOW + 0.5, exp=NOW + 60.25))),
        ok("empty channel list", token(claims(channels=[]))),
        ok("aud as list", token(claims(aud=["other", "sock8"]))),
        ok(
            "unknown claims and header members ignored",
            token(claims(x={"y": [1, 2]}), {**HEADER, "jku": "https://evil", "x5u": "x"}),
        ),
        ok(
            "named key",
            token(header={**HEADER, "kid": "k2"}, secret=OTHER),
            secrets={"k1": SECRET, "k2": OTHER},
        ),
        ok("issuer checked", token(claims(iss="https://app")), verifier={"issuer": "https://app"}),
        ok(
            "no audience configured, none carried",
            token(claims(aud=...)),
            verifier={"audience": None},
        ),
        ok(
            "pyjwt key order and spacing do not matter",
            token(raw_payload=json.dumps(GOOD_CLAIMS, indent=1).encode()),
        ),
        ok(
            "escaped channel text is the same text",
            token(raw_payload=compact(GOOD_CLAIMS).replace(b"admin.logs", b"\\u0061dmin.logs")),
        ),
        # Structure and encoding.
        err("two segments", f"{HEAD}.{PAYLOAD}", "MalformedToken"),
        err("four segments", f"{GOOD}.x", "MalformedToken"),
        err("padded header", f"{HEAD}=.{PAYLOAD}.{SIG}", "MalformedToken"),
        err("standard alphabet", f"{HEAD}.{PAYLOAD}.{SIG[:-2]}+{SIG[-1]}", "MalformedToken"),
        err("padded signature", f"{GOOD}=", "MalformedToken"),
        err(
            "signature with non-zero trailing bits",
            f"{HEAD}.{PAYLOAD}.{SIG[:-1]}{trailing_bit(SIG[-1])}",
            "MalformedToken",
        ),
        err("non-ASCII", GOOD + "é", "MalformedToken"),
        err(
            "over the size limit",
            GOOD,
            "MalformedToken",
            verifier={"max_token_bytes": len(GOOD) - 1},
        ),
        err("header not JSON", token(raw_header=b"not json"), "MalformedToken"),
        err("header a list", token(raw_header=b'["HS256"]'), "MalformedToken"),
        err(
            "header with BOM", token(raw_header=b"\xef\xbb\xbf" + compact(HEADER)), "MalformedToken"
        ),
        err("header not UTF-8", token(raw_header=b'{"alg":"HS256","x":"\xff"}'), "MalformedToken"),
        err("duplicate alg", token(raw_header=b'{"alg":"none","alg":"HS256"}'), "MalformedToken"),
        err("alg none", token(header={"alg": "none", "typ": "JWT"}), "MalformedToken"),
        err("alg none unsigned", f"{b64(compact({'alg': 'none'}))}.{PAYLOAD}.", "MalformedToken"),
        err("alg lower case", token(header={"alg": "hs256"}), "MalformedToken"),
        err("alg HS512", token(header={"alg": "HS512"}), "MalformedToken"),
        err("alg missing", token(header={"typ": "JWT"}), "MalformedToken"),
        err("crit", token(header={**HEADER, "crit": ["exp"]}), "MalformedToken"),
        err("empty crit", token(header={**HEADER, "crit": []}), "MalformedToken"),
        err("kid not a string", token(header={**HEADER, "kid": 1}), "MalformedToken"),
        err("unknown kid", token(header={**HEADER, "kid": "nope"}), "UnknownKey"),
        err(
            "kid path traversal",
            token(header={**HEADER, "kid": "../../dev/null"}),
            "UnknownKey",
            secrets={"k1": SECRET},
        ),
        err("no kid but only named keys", GOOD, "UnknownKey", secrets={"k1": SECRET}),
        err(
            "kid selects a key that did not sign",
            token(header={**HEADER, "kid": "k1"}, secret=OTHER),
            "BadSignature",
            secrets={"k1": SECRET, "k2": OTHER},
        ),
        # Signature.
        err("wrong secret", token(secret=OTHER), "BadSignature"),
        err("empty signature", f"{HEAD}.{PAYLOAD}.", "BadSignature"),
        err("truncated signature", f"{HEAD}.{PAYLOAD}.{SIG[:20]}", "BadSignature"),
        err(
            "tampered payload",
            f"{HEAD}.{token(claims(sub='admin')).split('.')[1]}.{SIG}",
            "BadSignature",
        ),
        err(
            "RFC 7515 A.1 verifies, then lacks sock8 claims",
            RFC7515_A1,
            "InvalidClaims",
            secrets_b64=RFC7515_A1_KEY,
            verifier={"audience": None},
        ),
        err(
            "RFC 7515 A.1 with one bit flipped",
            RFC7515_A1[:-2] + "jk",
            "BadSignature",
            secrets_b64=RFC7515_A1_KEY,
            verifier={"audience": None},
        ),
        # Payload JSON.
        err("payload not JSON", token(raw_payload=b"{"), "MalformedToken"),
        err(
            "duplicate sub",
            token(raw_payload=compact(GOOD_CLAIMS)[:-1] + b',"sub":"admin"}'),
            "MalformedToken",
        ),
        err(
            "duplicate key in nested object",
            token(raw_payload=compact(claims(x={"a": 1})).replace(b'{"a":1}', b'{"a":1,"a":2}')),
            "MalformedToken",
        ),
        err("nested too deep", token(claims(x=[[[[[[[[1]]]]]]]])), "MalformedToken"),
        ok("nested at the limit", token(claims(x=[[[[[[[1]]]]]]]))),
        err("NaN", token(raw_payload=compact(GOOD_CLAIMS)[:-1] + b',"x":NaN}'), "MalformedToken"),
        err(
            "1e400", token(raw_payload=compact(GOOD_CLAIMS)[:-1] + b',"x":1e400}'), "MalformedToken"
        ),
        err(
            "lone surrogate",
            token(raw_payload=compact(GOOD_CLAIMS)[:-1] + b',"x":"\\ud800"}'),
            "MalformedToken",
        ),
        # Claims.
        err("sub missing", token(claims(sub=...)), "InvalidClaims"),
        err("sub empty", token(claims(sub="")), "InvalidClaims"),
        err("sub a number", token(claims(sub=1)), "InvalidClaims"),
        err("exp missing", token(claims(exp=...)), "InvalidClaims"),
        err("exp a numeric string", token(claims(exp=str(NOW + 3600))), "InvalidClaims"),
        err("exp a boolean", token(claims(exp=True)), "InvalidClaims"),
        err("exp null", token(claims(exp=None)), "InvalidClaims"),
        err("exp negative", token(claims(exp=-1)), "InvalidClaims"),
        err("exp past year 9999", token(claims(exp=253402300800)), "InvalidClaims"),
        err("exp huge", token(claims(exp=10**30)), "InvalidClaims"),
        err("iat missing", token(claims(iat=...)), "InvalidClaims"),
        err("nbf a string", token(claims(nbf="0")), "InvalidClaims"),
        err("jti a number", token(claims(jti=5)), "InvalidClaims"),
        err("channels missing", token(claims(channels=...)), "InvalidClaims"),
        err("channels a bare string", token(claims(channels="admin.logs")), "InvalidClaims"),
        err("channels with a number", token(claims(channels=["admin.logs", 1])), "InvalidClaims"),
        err(
            "channel not canonical", token(claims(channels=["chat.r%2a##roomId"])), "InvalidClaims"
        ),
        err("channel wildcard", token(claims(channels=["chat.*"])), "InvalidClaims"),
        err(
            "too many channels",
            token(claims(channels=["a", "b", "c"])),
            "InvalidClaims",
            verifier={"max_channels": 2},
        ),
        err("aud missing", token(claims(aud=...)), "InvalidClaims"),
        err("aud wrong", token(claims(aud="sock8:publish")), "InvalidClaims"),
        err("aud a prefix", token(claims(aud="sock")), "InvalidClaims"),
        err("aud empty list", token(claims(aud=[])), "InvalidClaims"),
        err("aud list with a number", token(claims(aud=["sock8", 1])), "InvalidClaims"),
        err("aud when none expected", GOOD, "InvalidClaims", verifier={"audience": None}),
        err("iss missing", GOOD, "InvalidClaims", verifier={"issuer": "https://app"}),
        err(
            "iss partial match",
            token(claims(iss="https://ap")),
            "InvalidClaims",
            verifier={"issuer": "https://app"},
        ),
        # Order: claims before times, expiry before not-yet-valid.
        err(
            "bad claim in an expired token", token(claims(sub="")), "InvalidClaims", now=NOW + 99999
        ),
        err(
            "expired and not yet valid",
            token(claims(nbf=NOW + 10**6)),
            "TokenExpired",
            now=NOW + 4000,
        ),
    ]


def main() -> None:
    document = {
        "about": "HS256 tokens and the outcome docs/spec.md prescribes; generated by generate.py",
        "secret": SECRET,
        "cases": cases(),
    }
    (HERE / "tokens.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
