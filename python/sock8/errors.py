"""The sock8 exception tree.

The classes live in Python (as in pyca/cryptography) so that their hierarchy, docstrings and
pickling are plain Python; the Rust core raises them by import. Every failure caused by the
content of a token, a channel id or a configuration value is one of these; a `TypeError` means
the caller passed an object of the wrong type.
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "ChannelError",
    "ConfigError",
    "InvalidClaims",
    "MalformedToken",
    "PublishError",
    "Sock8Error",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "UnknownKey",
]


class Sock8Error(Exception):
    """Root of every error sock8 raises on purpose."""


class TokenError(Sock8Error, ValueError):
    """A token was refused. Catch this to treat every refusal alike."""


class MalformedToken(TokenError):
    """The token is not a well-formed sock8 JWS: structure, base64url, JSON, header or size."""


class BadSignature(TokenError):
    """The token's MAC does not match the configured key."""


class TokenExpired(TokenError):
    """The token's `exp` is in the past (after leeway)."""


class TokenNotYetValid(TokenError):
    """The token's `nbf` or `iat` lies in the future (after leeway)."""


class InvalidClaims(TokenError):
    """A claim is missing, has the wrong type, or does not match the verifier's configuration."""


class UnknownKey(TokenError):
    """The token's `kid` (or its absence) selects no configured key."""


class ChannelError(Sock8Error, ValueError):
    """A channel template, parameter value or wire id breaks the channel-id grammar."""


class ConfigError(Sock8Error):
    """A configuration value (secret, TTL, leeway, limit, URL) is invalid."""


class PublishError(Sock8Error):
    """A validated message could not be handed to the gateway."""
