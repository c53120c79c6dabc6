"""`GatewayStats`: the counters of one gateway, for `/health` and the Prometheus metrics.

The four plain counters (`connections`, `slow_consumers`, `published`, `rate_limited`) read and
assign like attributes (`stats.published += 1`); each assignment also adds the difference to its
metric. The other events have a method each. Without metrics (`Gateway(metrics=False)`) only the
plain counters are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sock8.errors import (
    BadSignature,
    InvalidClaims,
    MalformedToken,
    TokenExpired,
    TokenNotYetValid,
    TokenRevoked,
    UnknownKey,
)

if TYPE_CHECKING:
    from sock8.gateway.metrics import GatewayMetrics

__all__ = ["REFUSAL_REASONS", "GatewayStats", "refusal_reason"]

REFUSAL_REASONS: Mapping[type[Exception], str] = {
    MalformedToken: "malformed",
    BadSignature: "bad_signature",
    TokenExpired: "expired",
    TokenNotYetValid: "not_yet_valid",
    InvalidClaims: "invalid_claims",
    UnknownKey: "unknown_key",
    TokenRevoked: "revoked",
}
"""The `reason` of a refused token, by its error class (the metrics' label, the logs' field)."""


def refusal_reason(error: BaseException) -> str:
    """The short name of why a token was refused (`REFUSAL_REASONS`); `"other"` otherwise."""
    for kind in type(error).__mro__:
        reason = REFUSAL_REASONS.get(kind)
        if reason is not None:
            return reason
    return "other"


class GatewayStats:
    """Counters of one gateway, for `/health` and the metrics.

    Attributes:
        connections: open WebSocket connections (authenticated or not).
        slow_consumers: connections closed with 4008 since start.
        published: messages accepted by `POST /publish` since start.
        rate_limited: client requests refused by a rate limit since start.
    """

    __slots__ = (
        "_connections",
        "_delivered",
        "_flushed",
        "_metrics",
        "_published",
        "_rate_limited",
        "_slow_consumers",
    )

    def __init__(self, metrics: GatewayMetrics | None = None) -> None:
        self._metrics = metrics
        self._connections = 0
        self._slow_consumers = 0
        self._published = 0
        self._rate_limited = 0
        # Deliveries are counted in a plain int (the fan-out's path: no lock) and handed to
        # their metric by `flush`; `_flushed` is what it has handed so far.
        self._delivered = 0
        self._flushed = 0

    @property
    def connections(self) -> int:
        """Open WebSocket connections (authenticated or not)."""
        return self._connections

    @connections.setter
    def connections(self, value: int) -> None:
        if self._metrics is not None:
            self._metrics.connections.inc(value - self._connections)
        self._connections = value

    @property
    def slow_consumers(self) -> int:
        """Connections closed with 4008 since start."""
        return self._slow_consumers

    @slow_consumers.setter
    def slow_consumers(self, value: int) -> None:
        if self._metrics is not None:
            self._metrics.slow_consumers.inc(value - self._slow_consumers)
        self._slow_consumers = value

    @property
    def published(self) -> int:
        """Messages accepted by `POST /publish` since start."""
        return self._published

    @published.setter
    def published(self, value: int) -> None:
        if self._metrics is not None:
            self._metrics.publishes.labels("ok").inc(value - self._published)
        self._published = value

    @property
    def rate_limited(self) -> int:
        """Client requests refused by a rate limit since start."""
        return self._rate_limited

    @rate_limited.setter
    def rate_limited(self, value: int) -> None:
        if self._metrics is not None:
            self._metrics.rate_limited.inc(value - self._rate_limited)
        self._rate_limited = value

    # Events counted only by the metrics.

    def connected(self, outcome: str, reason: str = "") -> None:
        """A connection's authentication ended: `ok`, `unauthorized` (with the `refusal_reason`
        of its `TokenError`), `bad_frame`, `auth_timeout` or `origin`."""
        if self._metrics is not None:
            self._metrics.connects.labels(outcome, reason).inc()

    def refreshed(self, ok: bool) -> None:
        """A `refresh` was taken (`ok`) or refused."""
        if self._metrics is not None:
            self._metrics.refreshes.labels("ok" if ok else "refused").inc()

    def publish_refused(self, outcome: str) -> None:
        """A `POST /publish` was not accepted: `unauthorized`, `bad_request`, `too_large`,
        `unavailable` or `internal`."""
        if self._metrics is not None:
            self._metrics.publishes.labels(outcome).inc()

    def history_read(self, ok: bool) -> None:
        """A `GET /history` was answered (`ok`) or refused."""
        if self._metrics is not None:
            self._metrics.history_reads.labels("ok" if ok else "refused").inc()

    def delivered(self, subscribers: int) -> None:
        """A message was offered to `subscribers` connections (once per message: the hub);
        about 60 ns, the metric follows at the next `flush`."""
        self._delivered += subscribers

    def flush(self) -> None:
        """Hand the deliveries counted since the last call to their metric (the metrics call
        it before each scrape, and each second with several processes)."""
        if self._metrics is not None:
            delivered = self._delivered
            self._metrics.deliveries.inc(delivered - self._flushed)
            self._flushed = delivered

    def revocation(self) -> None:
        """A revocation was taken (this node's or another's)."""
        if self._metrics is not None:
            self._metrics.revocations.inc()

    def revoked_connections(self, connections: int) -> None:
        """A revocation closed `connections` local connections."""
        if self._metrics is not None:
            self._metrics.revoked_connections.inc(connections)

    def verified(self, seconds: float) -> None:
        """A client token's verification took `seconds`."""
        if self._metrics is not None:
            self._metrics.token_verify_seconds.observe(seconds)

    def __repr__(self) -> str:
        return (
            f"<GatewayStats connections={self._connections} slow_consumers="
            f"{self._slow_consumers} published={self._published} rate_limited={self._rate_limited}>"
        )
