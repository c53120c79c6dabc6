"""Tokens of any shape for the `sock8 token inspect` tests, MACed like a signer would."""

from __future__ import annotations

import json
from typing import Any

from tests.support.jws import b64, craft
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


def raw(part: dict[str, Any] | str | bytes) -> bytes:
    """A header or payload's bytes: a dict as compact JSON, text as UTF-8, bytes as they are."""
    if isinstance(part, dict):
        part = json.dumps(part, separators=(",", ":"))
    return part.encode() if isinstance(part, str) else part


def segment(part: dict[str, Any] | str | bytes) -> str:
    """A header or payload segment: `raw(part)` in base64url."""
    return b64(raw(part))


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
    return craft(raw(HEADER if header is None else header), raw(claims), secret)
