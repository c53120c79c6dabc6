"""The sock8 gateway: verified WebSocket delivery, presence, history and publishing over HTTP.

    from sock8.gateway import create_app

    app = create_app(s8, channels=channels)      # an ASGI app; or `sock8 gateway` from a shell

docs/protocol.md is the wire contract. The gateway talks to three small interfaces, so that a
multi-node deployment swaps the in-memory defaults for shared ones: a `sock8.Broker` (fan-out;
`MemoryBroker` by default), a `PresenceStore` (`MemoryPresence`) and a `HistoryStore` (the
broker itself by default; defined beside `Broker` in `sock8.publisher`). Needs the
`sock8[gateway]` extra (Starlette, uvicorn; `sock8 gateway`'s own server, gateway/server.py, also
picows).
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401 - fail here with the install hint, not deep in an import
except ModuleNotFoundError as exc:  # pragma: no cover - the test environment has starlette
    if exc.name != "starlette":
        raise
    raise ImportError("sock8.gateway needs starlette: pip install 'sock8[gateway]'") from None

from sock8.gateway.app import Gateway, create_app
from sock8.gateway.clock import Clock, ManualClock, SystemClock, Timer
from sock8.gateway.frames import (
    CLOSE_BAD_FRAME,
    CLOSE_FORBIDDEN,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHORIZED,
)
from sock8.gateway.metrics import GatewayMetrics
from sock8.gateway.presence import MemoryPresence, PresenceEntry, PresenceStore
from sock8.gateway.revocations import MemoryRevocations, RevocationStore
from sock8.gateway.rules import ChannelRules
from sock8.gateway.stats import GatewayStats
from sock8.publisher import HistoryStore

__all__ = [
    "CLOSE_BAD_FRAME",
    "CLOSE_FORBIDDEN",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAUTHORIZED",
    "ChannelRules",
    "Clock",
    "Gateway",
    "GatewayMetrics",
    "GatewayStats",
    "HistoryStore",
    "ManualClock",
    "MemoryPresence",
    "MemoryRevocations",
    "PresenceEntry",
    "PresenceStore",
    "RevocationStore",
    "SystemClock",
    "Timer",
    "create_app",
]
