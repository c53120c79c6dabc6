"""Tokens made by hand: the parity tests' keys and times, and tokens with a valid MAC over any
header and payload bytes."""

from __future__ import annotations

import json
import math
from typing import Any

from tests.support.jws import craft as craft  # the parity cases and tests take it from here

S1 = b"parity-key-one-0123456789abcdefghijklmnopqrstuv"
S2 = "parity-key-two-\u00e9\u00e8-0123456789abcdefghijklmnop"
S3 = b"\x00\x01parity-key-three-0123456789abcdefghijklmnop\xff"
WRONG = b"parity-key-wrong-0123456789abcdefghijklmnopqrstu"
NOW = 1_700_000_000
MAX_DATE = 253_402_300_799
MAX_TTL = 31_536_000


def dumps(value: object, *, ascii_only: bool = False) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only).encode("utf-8")


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


def nest(depth: int, kind: str) -> bytes:
    """A JSON value nested `depth` containers deep."""
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth if depth else b"1"


def time_token(text: str, claim: str, nudge: int, leeway: float) -> tuple[str, float]:
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
