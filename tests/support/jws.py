"""Tokens put together by hand: base64url segments and an HS256 MAC over any signing input, for
tests that need tokens a signer would never write."""

from __future__ import annotations

import base64
import hashlib
import hmac


def b64(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed(signing_input: str, secret: str | bytes) -> str:
    """`signing_input` (`header.payload`, segments as they are) with its HMAC-SHA256 under
    `secret` (text is keyed by its UTF-8 bytes)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def craft(header: bytes, payload: bytes, secret: str | bytes) -> str:
    """A token over any `header` and `payload` bytes, with their HMAC-SHA256 under `secret`."""
    return signed(f"{b64(header)}.{b64(payload)}", secret)
