"""sock8: realtime channels with strict, signed, per-channel access control."""

from sock8._core import (
    ChannelTemplate,
    Grants,
    Signer,
    Verifier,
    __version__,
    parse_channel,
    render_channel,
)
from sock8.errors import (
    BadSignature,
    ChannelError,
    ConfigError,
    InvalidClaims,
    MalformedToken,
    PublishError,
    Sock8Error,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
)

__all__ = [
    # Errors
    "BadSignature",
    "ChannelError",
    # Channel ids
    "ChannelTemplate",
    "ConfigError",
    # Tokens
    "Grants",
    "InvalidClaims",
    "MalformedToken",
    "PublishError",
    "Signer",
    "Sock8Error",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "UnknownKey",
    "Verifier",
    "__version__",
    "parse_channel",
    "render_channel",
]
