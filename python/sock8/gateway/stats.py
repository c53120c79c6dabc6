"""`GatewayStats`: the counters of one gateway, for `/health` and metrics."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GatewayStats"]


@dataclass(slots=True)
class GatewayStats:
    """Counters of one gateway, for `/health` and metrics.

    Attributes:
        connections: open WebSocket connections (authenticated or not).
        slow_consumers: connections closed with 4008 since start.
        published: messages accepted by `POST /publish` since start.
        rate_limited: client requests refused by a rate limit since start.
    """

    connections: int = 0
    slow_consumers: int = 0
    published: int = 0
    rate_limited: int = 0
