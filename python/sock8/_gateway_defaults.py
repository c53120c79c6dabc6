"""The gateway's default settings, in one place that imports nothing heavy: `sock8.gateway`
uses them, and so does the CLI's `--help`, which must work without the gateway's dependencies."""

from __future__ import annotations

from sock8._core import MAX_TOKEN_BYTES

AUTH_TIMEOUT = 10.0
"""Seconds a connection has to send its `auth` frame."""
MAX_FRAME_BYTES = MAX_TOKEN_BYTES + 64 * 1024
"""Large enough for an `auth` frame with the largest token the verifier accepts."""
MAX_PUBLISH_BYTES = 1024 * 1024
"""Largest `POST /publish` body."""
MAX_PRESENCE_BYTES = 16 * 1024
"""Largest presence data of one identity on one channel, as JSON."""
SEND_BUFFER = 1024 * 1024
"""Bytes a connection may leave unsent (its queue, and the server's write buffer when it can be
read) before it is closed as a slow consumer."""
HISTORY_SIZE = 100
"""Messages kept per channel by the default broker."""
CLOSE_TIMEOUT = 5.0
"""Seconds spent sending the final error frame and close."""
REQUEST_RATE = 50.0
"""Client requests per second one connection may sustain (every frame after `auth`)."""
REQUEST_BURST = 500
"""Client requests one connection may send at once: room to re-subscribe a few hundred channels
right after a reconnect."""
PRESENCE_RATE = 5.0
"""`setPresence` requests per second one connection may sustain: plenty for a typing indicator
sent when the typing state changes."""
PRESENCE_BURST = 20
"""`setPresence` requests one connection may send at once."""
MAX_TOKEN_TTL = 365 * 24 * 3600
"""The longest client-token lifetime a gateway accepts when it is not told (one year: the longest
a sock8 signer signs); revocations are kept that long."""
