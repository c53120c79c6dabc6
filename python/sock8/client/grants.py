"""`GrantState`: what the gateway granted a `sock8.Client`, and what its caller set on top."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sock8.client.route import Token

__all__ = ["GrantState"]


@dataclass(slots=True)
class GrantState:
    """The grants the gateway acknowledged, and the caller's wishes that outlive a connection.
    Internal: the client's connection loop keeps it.

    Attributes:
        identity: the identity the gateway welcomed.
        channels: the channels the current token grants.
        expires_at: the current token's `exp`, epoch seconds on the gateway's clock.
        unsubscribed: the channels the caller unsubscribed from, until it subscribes again.
        presence: the presence data the caller set, merged, by channel.
    """

    identity: str | None = None
    channels: tuple[str, ...] = ()
    expires_at: int | None = None
    unsubscribed: set[str] = field(default_factory=set)
    presence: dict[str, dict[str, Any]] = field(default_factory=dict)

    def accept(self, frame: Mapping[str, Any], token: Token) -> None:
        """Take in the gateway's `welcome` or `refreshed` for `token`, and forget the wishes
        on channels it no longer grants.

        What the frame leaves out (`refreshed` names no identity) or garbles comes from what
        the auth route said about the token.
        """
        identity = frame.get("identity")
        channels = frame.get("channels")
        expires_at = frame.get("expiresAt")
        self.identity = identity if isinstance(identity, str) else token.identity
        self.channels = (
            tuple(str(channel) for channel in channels)
            if isinstance(channels, list)
            else token.channels
        )
        self.expires_at = expires_at if isinstance(expires_at, int) else token.expires_at
        granted = set(self.channels)
        self.unsubscribed &= granted
        for channel in [channel for channel in self.presence if channel not in granted]:
            del self.presence[channel]

    def restoring_frames(self) -> list[dict[str, Any]]:
        """The frames that re-apply the caller's wishes on a new connection: unsubscribes,
        then presence."""
        frames: list[dict[str, Any]] = [
            {"event": "unsubscribe", "channel": channel} for channel in sorted(self.unsubscribed)
        ]
        frames += [
            {"event": "setPresence", "channel": channel, "data": data}
            for channel, data in self.presence.items()
        ]
        return frames
