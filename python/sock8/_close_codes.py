"""WebSocket close codes of the sock8 protocol (docs/protocol.md), shared by the gateway and the
client without importing either's dependencies."""

from __future__ import annotations

from typing import Final

CLOSE_UNAUTHORIZED: Final = 4001
"""Token invalid or expired, refresh refused, or no `auth` frame before the deadline."""
CLOSE_FORBIDDEN: Final = 4003
"""Refused by policy (an upgrade from an origin that is not allowed is refused with HTTP 403)."""
CLOSE_SLOW_CONSUMER: Final = 4008
"""The connection's send queue overflowed."""
CLOSE_BAD_FRAME: Final = 4400
"""A malformed, unknown or oversized client frame, or a first frame that is not `auth`."""
CLOSE_INTERNAL: Final = 1011
"""The gateway failed while handling a frame (RFC 6455's "internal error")."""
