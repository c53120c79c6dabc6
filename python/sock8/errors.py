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
    "TokenRevoked",
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


class TokenRevoked(TokenError):
    """The token was revoked (`Sock8.revoke`): its identity's tokens issued before a time, or
    its `jti`. Raised by the gateway, not by `Verifier`, which knows no revocations."""


class InvalidClaims(TokenError):
    """A claim is missing, has the wrong type, or does not match the verifier's configuration."""


class UnknownKey(TokenError):
    """The token's `kid` (or its absence) selects no configured key.

    Attributes:
        kid: the token's `kid`, which names no configured key; `None` when the token has no
            `kid` (and no unnamed key is configured), or when the error was raised without one.
    """

    kid: str | None = None
    """The `kid` that selected no key, or `None` (see the class docstring)."""

    def __init__(self, *args: object, kid: str | None = None) -> None:
        super().__init__(*args)
        self.kid = kid


class ChannelError(Sock8Error, ValueError):
    """A channel template, parameter value or wire id breaks the channel-id grammar.

    Attributes:
        position: the 1-based index of the refused segment in the template or wire id being
            read (`"a..b"` is refused at segment 2); `None` when the error is not about one
            segment of that text: an empty or overlong text, too many segments, or the values
            given to `render`.
        segment: what the error is about when it is one segment or parameter: a static
            segment's text, or a parameter's name (also for a value given to `render`); `None`
            for an empty segment and for errors about the whole text.

    Both are `None` when the error was raised without them.
    """

    position: int | None = None
    """1-based index of the refused segment, or `None` (see the class docstring)."""
    segment: str | None = None
    """The refused static segment's text or parameter's name, or `None`."""

    def __init__(
        self, *args: object, position: int | None = None, segment: str | None = None
    ) -> None:
        super().__init__(*args)
        self.position = position
        self.segment = segment


def reworded(error: ChannelError, message: str) -> ChannelError:
    """A `ChannelError` saying `message` (the original's message in context: the key, the
    template or the call it came from) with the original's `position` and `segment`."""
    return ChannelError(message, position=error.position, segment=error.segment)


class ConfigError(Sock8Error):
    """A configuration value (secret, TTL, leeway, limit, URL) is invalid."""


class PublishError(Sock8Error):
    """A validated message could not be handed to the gateway."""
