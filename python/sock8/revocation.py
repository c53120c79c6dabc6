"""`Revocation` and `Revoker`: cutting off tokens before they expire.

A revocation names either an identity, whose tokens issued before a time are refused (and its
live connections closed), or one token by its `jti`. `Sock8.revoke` builds one and hands it to a
`Revoker`: a gateway in this process (`sock8.gateway.Gateway`), or the gateway's `POST /revoke`
over HTTP (`HttpPublisher`). The gateway keeps each revocation only until every token it refuses
would have expired anyway, so the list stays as short as the longest token lifetime allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sock8._core import Grants

__all__ = ["MAX_JTI_CHARS", "Revocation", "Revoker"]

MAX_JTI_CHARS = 256
"""Longest `jti` a revocation may name (sock8's signers write 22 characters)."""
_MAX_IDENTITY_CHARS = 1024
# NumericDate's range, as the core reads it (docs/spec.md): a `before` beyond cannot be an iat.
_MAX_TIME = 2.0**53


@dataclass(frozen=True, slots=True)
class Revocation:
    """What to revoke: the tokens of `identity` issued before `before`, or the token `jti`.

    Attributes:
        identity: the `sub` whose tokens are refused; `None` with `jti`.
        before: epoch seconds; tokens of `identity` whose `iat` is earlier are refused (`iat` is
            whole seconds: a token signed in the second that holds a fractional `before` counts
            as earlier). `None`: the gateway's time when it takes the revocation.
        jti: the one token refused; `None` with `identity`.

    Raises:
        TypeError: a value of the wrong type.
        ValueError: both or neither of `identity` and `jti`, `before` with `jti`, an empty or
            overlong identity or jti, or a `before` that is not a time.
    """

    identity: str | None = None
    before: float | None = None
    jti: str | None = None

    def __post_init__(self) -> None:
        identity, before, jti = self.identity, self.before, self.jti
        for name, value in (("identity", identity), ("jti", jti)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        if (identity is None) == (jti is None):
            raise ValueError("revoke either an identity (with before) or a jti, not both")
        if identity is not None and not 0 < len(identity) <= _MAX_IDENTITY_CHARS:
            raise ValueError(f"identity must be 1 to {_MAX_IDENTITY_CHARS} characters")
        if jti is not None:
            if not 0 < len(jti) <= MAX_JTI_CHARS:
                raise ValueError(f"jti must be 1 to {MAX_JTI_CHARS} characters")
            if before is not None:
                raise ValueError("before goes with identity: a jti names one token")
        if before is not None:
            if isinstance(before, bool) or not isinstance(before, int | float):
                raise TypeError(f"before must be epoch seconds, not {type(before).__name__}")
            if not (math.isfinite(before) and 0 <= before < _MAX_TIME):
                raise ValueError(f"before must be epoch seconds, not {before!r}")

    def at(self, now: float) -> Revocation:
        """This revocation with `before` set: `now` when it was not given."""
        if self.identity is None or self.before is not None:
            return self
        return Revocation(identity=self.identity, before=now)

    def matches(self, grants: Grants) -> bool:
        """Whether this revocation (its `before` set) refuses the token `grants` came from."""
        if self.jti is not None:
            return grants.jti == self.jti
        return (
            grants.identity == self.identity
            and self.before is not None
            and grants.issued_at < self.before
        )

    def as_json(self) -> dict[str, Any]:
        """The body of `POST /revoke` (docs/protocol.md)."""
        if self.jti is not None:
            return {"jti": self.jti}
        body: dict[str, Any] = {"identity": self.identity}
        if self.before is not None:
            body["before"] = self.before
        return body

    @classmethod
    def from_json(cls, body: object) -> Revocation:
        """Read the body of `POST /revoke`.

        Raises:
            ValueError: not an object with `identity` (and maybe `before`) or `jti`, or a
                value `Revocation` refuses (its `TypeError`s too, as `ValueError`s).
        """
        if not isinstance(body, Mapping):
            raise ValueError("body must be an object with identity (and before) or jti")
        unknown = set(body) - {"identity", "before", "jti"}
        if unknown:
            raise ValueError(f"unknown member {sorted(unknown)[0]!r:.60}")
        try:
            return cls(
                identity=body.get("identity"), before=body.get("before"), jti=body.get("jti")
            )
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def __str__(self) -> str:
        if self.jti is not None:
            return f"the token {self.jti!r}"
        when = "now" if self.before is None else f"{self.before:.0f}"
        return f"the tokens of {self.identity!r} issued before {when}"


@runtime_checkable
class Revoker(Protocol):
    """Where `Sock8.revoke` sends revocations: a gateway, in this process or over HTTP."""

    def revoke(self, revocation: Revocation) -> None:
        """Revoke on every gateway node; returns once the gateway took it.

        Raises:
            PublishError: the gateway could not be reached or refused it.
        """

    async def arevoke(self, revocation: Revocation) -> None:
        """The async twin of `revoke`; never blocks the event loop."""
