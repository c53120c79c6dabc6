"""`GrantState`: what the gateway granted a `sock8.Client`, and what its caller set on top."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sock8.client.route import Token

__all__ = ["GrantState", "parse_position"]


def parse_position(value: object) -> tuple[int, str] | None:
    """`{"offset", "epoch"}` from the gateway as `(offset, epoch)`; `None` when malformed."""
    if not isinstance(value, dict):
        return None
    offset, epoch = value.get("offset"), value.get("epoch")
    if type(offset) is not int or offset < 0 or not isinstance(epoch, str):
        return None
    return offset, epoch


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
        positions: the last `(offset, epoch)` received of each channel with history, kept
            across reconnects so that a new connection resumes from there.
        recovering: the channels resubscribed with `since` on this connection whose answer has
            not come yet: their live messages are dropped meanwhile (the answer's recovery
            gives them again, in order).
    """

    identity: str | None = None
    channels: tuple[str, ...] = ()
    expires_at: int | None = None
    unsubscribed: set[str] = field(default_factory=set)
    presence: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, tuple[int, str]] = field(default_factory=dict)
    recovering: set[str] = field(default_factory=set)

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
        for channel in [channel for channel in self.positions if channel not in granted]:
            del self.positions[channel]
        if frame.get("event") == "welcome":
            self._welcome_positions(frame.get("positions"))

    def _welcome_positions(self, positions: object) -> None:
        """A new connection: the channels this client has a position of are to be resumed;
        the others start from where the welcome says they stand."""
        self.recovering.clear()
        if not isinstance(positions, dict):
            return
        for channel, value in positions.items():
            position = parse_position(value)
            if position is None or channel in self.unsubscribed:
                continue
            if channel in self.positions:
                self.recovering.add(channel)
            else:
                self.positions[channel] = position

    def delivered(self, channel: str, offset: int, epoch: str) -> bool:
        """Whether a message of `channel` at `(offset, epoch)` (it has history) is new: not one
        this client has (a duplicate), nor one a recovery still under way will give again.
        Records it."""
        if channel in self.recovering:
            return False
        last = self.positions.get(channel)
        if last is not None and last[1] == epoch and offset <= last[0]:
            return False
        self.positions[channel] = (offset, epoch)
        return True

    def restoring_frames(self) -> list[dict[str, Any]]:
        """The frames that re-apply the caller's wishes on a new connection: unsubscribes,
        subscribes that resume channels from their last position (`since`), then presence."""
        frames: list[dict[str, Any]] = [
            {"event": "unsubscribe", "channel": channel} for channel in sorted(self.unsubscribed)
        ]
        frames += [
            {
                "event": "subscribe",
                "channel": channel,
                "since": {
                    "offset": self.positions[channel][0],
                    "epoch": self.positions[channel][1],
                },
            }
            for channel in sorted(self.recovering)
        ]
        frames += [
            {"event": "setPresence", "channel": channel, "data": data}
            for channel, data in self.presence.items()
        ]
        return frames
