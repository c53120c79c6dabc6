"""Where a gateway keeps revocations (`RevocationStore`, `MemoryRevocations`), and `POST /revoke`.

Every check is local and synchronous: a store keeps the live revocations in this process, and a
store shared by several gateway nodes (Redis) also hands each new one to the other nodes and
learns theirs (`share`, `start`). A revocation is kept until every token it refuses would have
expired anyway (`until`: its `before`, or the time it was taken for a `jti`, plus the longest
token lifetime the gateway accepts and its leeway), then dropped, so the list stays bounded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sock8._core import Grants, Verifier
from sock8._http import Reply, bad_request, bearer_token, refusal, unauthorized, unavailable
from sock8.errors import PublishError, TokenError
from sock8.gateway.clock import Clock
from sock8.integrations.starlette import response
from sock8.revocation import Revocation

__all__ = ["MemoryRevocations", "RevocationStore", "RevokeHost", "revoke_routes"]

logger = logging.getLogger("sock8.gateway")

Apply = Callable[[Revocation, float], None]
"""What a shared store calls with each revocation another node took, and its `until`."""

_MAX_BODY_BYTES = 4096


@runtime_checkable
class RevocationStore(Protocol):
    """The live revocations of a gateway node. `MemoryRevocations` keeps them in this process;
    a store shared by several nodes also carries them between the nodes."""

    def revoked(self, grants: Grants, now: float) -> bool:
        """Whether a live revocation refuses the token `grants` came from; local, about a
        hundred nanoseconds when there are none."""

    def add(self, revocation: Revocation, until: float, now: float) -> None:
        """Keep `revocation` (its `before` set) until `until`; thread-safe. Entries whose
        `until` has passed at `now` are dropped."""

    def share(self, revocation: Revocation, until: float) -> None:
        """Hand `revocation` to the other nodes (nothing for an in-process store).

        Raises:
            PublishError: the other nodes could not be reached.
        """

    async def ashare(self, revocation: Revocation, until: float) -> None:
        """The async twin of `share`."""

    async def start(self, clock: Clock, apply: Apply) -> None:
        """Learn the live revocations and follow the other nodes' new ones, calling `apply`
        on the running loop for each (a shared store); the gateway's startup calls it."""

    async def stop(self) -> None:
        """Stop following (the gateway's shutdown)."""


class MemoryRevocations:
    """The revocations of one gateway process. Implements `RevocationStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # identity → (before, until); jti → until. Replaced whole on change (copy on write), so
        # that `revoked` reads them without the lock.
        self._identities: dict[str, tuple[float, float]] = {}
        self._jtis: dict[str, float] = {}

    def revoked(self, grants: Grants, now: float) -> bool:
        """See `RevocationStore.revoked`."""
        identities, jtis = self._identities, self._jtis
        if identities:
            entry = identities.get(grants.identity)
            if entry is not None and grants.issued_at < entry[0] and now < entry[1]:
                return True
        if jtis:
            jti = grants.jti
            if jti is not None:
                until = jtis.get(jti)
                if until is not None and now < until:
                    return True
        return False

    def add(self, revocation: Revocation, until: float, now: float) -> None:
        """See `RevocationStore.add`."""
        with self._lock:
            identities = {key: value for key, value in self._identities.items() if value[1] > now}
            jtis = {key: value for key, value in self._jtis.items() if value > now}
            if revocation.jti is not None:
                jtis[revocation.jti] = max(until, jtis.get(revocation.jti, until))
            elif revocation.identity is not None and revocation.before is not None:
                # A later `before` refuses more tokens; the longest `until` keeps it.
                before, kept = identities.get(revocation.identity, (revocation.before, until))
                identities[revocation.identity] = (
                    max(before, revocation.before),
                    max(kept, until),
                )
            self._identities, self._jtis = identities, jtis

    def share(self, revocation: Revocation, until: float) -> None:
        """Nothing: this store has no other node."""

    async def ashare(self, revocation: Revocation, until: float) -> None:
        """Nothing: this store has no other node."""

    async def start(self, clock: Clock, apply: Apply) -> None:
        """Nothing: no other node revokes here."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def __len__(self) -> int:
        """Revocations held, expired ones not dropped yet included."""
        return len(self._identities) + len(self._jtis)

    def __repr__(self) -> str:
        return f"<MemoryRevocations {len(self)}>"


class RevokeHost(Protocol):
    """What `POST /revoke` needs of its gateway (`Gateway` is one)."""

    @property
    def publish_verifier(self) -> Verifier:
        """Verifies the publish tokens `/revoke` takes."""

    @property
    def clock(self) -> Clock:
        """Time for token checks."""

    async def arevoke(self, revocation: Revocation) -> None:
        """Revoke on every node."""


def revoke_routes(gateway: RevokeHost) -> list[Route]:
    """`POST /revoke`: revoke an identity's tokens or one token, with a publish token."""

    async def revoke(request: Request) -> JSONResponse:
        return response(await _revoke(gateway, request))

    return [Route("/revoke", revoke, methods=["POST"])]


async def _revoke(gateway: RevokeHost, request: Request) -> Reply:
    token = bearer_token(request.headers.get("authorization"))
    try:
        if token is None:
            raise TokenError("no bearer token")
        gateway.publish_verifier.verify(token, now=gateway.clock.time())
    except TokenError as exc:
        logger.debug("refused a token on /revoke: %s", exc, extra={"reason": type(exc).__name__})
        return unauthorized("Bearer")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY_BYTES:
            return refusal(413, "too_large", "body over the size limit")
    try:
        revocation = Revocation.from_json(json.loads(body))
    except ValueError as exc:
        # json's errors are ValueErrors too; a duplicate member cannot widen a revocation.
        return bad_request(str(exc))
    try:
        await gateway.arevoke(revocation)
    except PublishError as exc:
        logger.warning("revoking %s failed: %s", revocation, exc)
        return unavailable()
    return Reply(202, {"ok": True})
