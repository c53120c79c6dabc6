"""`ClientTokens`: how the gateway checks a client token (`/connect`, `refresh`, `/history`).

The verifier's checks come first (signature, audience, times, grants), then two of the
gateway's own: the token lives no longer than `max_token_ttl` (so that a revocation, kept that
long, outlives every token it refuses), and no live revocation refuses it. The time spent is
observed for the metrics' histogram.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sock8._core import Grants, Verifier
from sock8.errors import InvalidClaims, TokenRevoked
from sock8.gateway.clock import Clock
from sock8.gateway.revocations import RevocationStore

__all__ = ["ClientTokens"]


class ClientTokens:
    """Verifies client tokens as the gateway does.

    Arguments:
        verifier: the client-token verifier.
        clock: the gateway's time.
        revocations: the live revocations.
        max_ttl: the longest lifetime (`exp - iat`) accepted, in seconds.
        observe: called with the seconds each verification took.
    """

    __slots__ = ("_clock", "_observe", "_revocations", "_verifier", "max_ttl")

    def __init__(
        self,
        verifier: Verifier,
        clock: Clock,
        revocations: RevocationStore,
        max_ttl: int,
        observe: Callable[[float], None],
    ) -> None:
        self._verifier = verifier
        self._clock = clock
        self._revocations = revocations
        self._observe = observe
        self.max_ttl = max_ttl
        """The longest token lifetime accepted, in seconds."""

    def verify(self, token: str) -> Grants:
        """What `token` grants, now.

        Raises:
            TokenError: the verifier refused it (its subclasses say why); `InvalidClaims` for a
                lifetime over `max_ttl`; `TokenRevoked` for a revoked token.
        """
        now = self._clock.time()
        started = time.perf_counter()
        try:
            grants = self._verifier.verify(token, now=now)
        finally:
            self._observe(time.perf_counter() - started)
        if grants.expires_at - grants.issued_at > self.max_ttl:
            raise InvalidClaims(
                f"the token lives {grants.expires_at - grants.issued_at} s, over the gateway's "
                f"max_token_ttl ({self.max_ttl} s)"
            )
        if self._revocations.revoked(grants, now):
            raise TokenRevoked("the token was revoked")
        return grants
