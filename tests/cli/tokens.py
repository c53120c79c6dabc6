"""Tokens of any shape for the `sock8 token inspect` tests, MACed like a signer would."""

from __future__ import annotations

import json
from typing import Any

from tests.support import jws
from tests.support.jws import b64
from tests.support.secret import SECRET

NOW = 1_700_000_000
"""The time the tests inspect at (`--now`)."""

CLAIMS: dict[str, Any] = {
    "sub": "user-1",
    "aud": "sock8",
    "iat": NOW,
    "exp": NOW + 3600,
    "jti": "j1",
    "channels": ["chat.r1##roomId", "chat.r2##roomId", "news"],
}
"""Claims the default verifier accepts at `NOW`."""

HEADER: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}


def segment(part: dict[str, Any] | str | bytes) -> str:
    """A header or payload segment: a dict as compact JSON, text and bytes as they are."""
    if isinstance(part, dict):
        part = json.dumps(part, separators=(",", ":"))
    if isinstance(part, str):
        part = part.encode()
    return b64(part)


def forge(
    header: dict[str, Any] | str | bytes | None = None,
    claims: dict[str, Any] | str | bytes | None = None,
    *,
    secret: str = SECRET,
    **changes: Any,
) -> str:
    """A token of `header` and `claims` (`CLAIMS` updated with `changes`; a change to `None`
    removes the claim), with a valid HMAC-SHA256 under `secret`."""
    if claims is None:
        claims = {k: v for k, v in {**CLAIMS, **changes}.items() if v is not None}
    return signed(f"{segment(HEADER if header is None else header)}.{segment(claims)}", secret)


def signed(signing_input: str, secret: str = SECRET) -> str:
    """`signing_input` (`header.payload`, segments as they are) with its HMAC-SHA256."""
    return jws.signed(signing_input, secret)
