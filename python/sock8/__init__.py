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
from sock8.app import IssuedToken, Sock8
from sock8.broker import MemoryBroker
from sock8.channels import ChannelRef, ChannelSpec, channel
from sock8.client import Client
from sock8.connection import Connection
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
    TokenRevoked,
    UnknownKey,
)
from sock8.http_publisher import HttpPublisher
from sock8.keys import KeyRing
from sock8.publisher import Broker, HistoryPage, Message, Publisher, Subscription
from sock8.tree import ChannelTree

# Application and channel trees
__all__ = ["ChannelRef", "ChannelSpec", "ChannelTree", "Sock8", "channel"]
# Authorization
__all__ += ["Connection", "IssuedToken"]
# Channel ids
__all__ += ["ChannelTemplate", "parse_channel", "render_channel"]
# Tokens
__all__ += ["Grants", "Signer", "Verifier"]
# Keys
__all__ += ["KeyRing"]
# Publishing
__all__ += ["Broker", "HistoryPage", "MemoryBroker", "Message", "Publisher", "Subscription"]
__all__ += ["HttpPublisher"]
# Client
__all__ += ["Client"]
# Errors
__all__ += [
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
__all__ += ["__version__"]
