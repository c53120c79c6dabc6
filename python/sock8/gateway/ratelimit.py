"""Per-connection rate limits: a token bucket, read against the gateway's clock.

A connection gets two: one for every client request after `auth`, and a tighter one for
`setPresence`, whose broadcast costs every subscriber of the channel. A refused request is
answered with a `rate_limited` error and the connection stays open: closing would only make the
client reconnect, which costs more than the request did.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows `burst` events at once, then `rate` per second.

    Time is passed in (`now`, seconds), so that a `ManualClock` drives it in tests. A clock that
    goes back (a wall-clock step) refills nothing until it passes its previous reading again.

    Arguments:
        rate: tokens added per second.
        burst: the bucket's size; it starts full.
        now: the current time.
    """

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; whether the event may happen."""
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def __repr__(self) -> str:
        return (
            f"TokenBucket(rate={self._rate!r}, burst={int(self._burst)}, tokens={self._tokens:.2f})"
        )
