"""Where sock8 keeps things in Redis, and the bytes its Redis channels carry.

Every key and Redis channel of a sock8 channel holds the wire id as a hash tag (`{...}`), so
that a Redis Cluster keeps all of one channel's keys on one shard (scripts touch several).
With the default prefix `sock8`:

- `sock8:m:{<id>}` the pub/sub channel of a sock8 channel: messages and presence changes;
- `sock8:h:{<id>}` its history, a capped Stream (`t` timestamp, `p` payload, `o` offset);
- `sock8:s:{<id>}` its history's state, a hash (`e` epoch, `o` last offset);
- `sock8:pd:{<id>}` presence entries, a hash identity -> `{"lastSeen", "data"}`;
- `sock8:pe:{<id>}` presence expiry, a sorted set connection id -> expiry (epoch ms);
- `sock8:pm:{<id>}` presence membership, a hash connection id -> identity;
- `sock8:pc:{<id>}` presence counts, a hash identity -> member connections;
- `sock8:probe:{<node>}` one node's own probe channel.

What a channel carries, one Redis message per event, decoded once per node:

- `m<timestamp>:<payload>`: a published message (epoch ms, then the JSON text);
- `o<offset>:<epoch>:<timestamp>:<payload>`: a message stored in the history;
- `p{"i": identity, "e": {"lastSeen", "data"}}`: an identity's new presence entry;
- `p{"i": identity}`: the identity left (its last member connection went, or expired).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_PREFIX",
    "Keys",
    "decode_event",
    "decode_numbered",
    "message_event",
    "presence_event",
]

DEFAULT_PREFIX = "sock8"
"""The prefix of every key and Redis channel unless another is given."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The names of one prefix."""

    prefix: str = DEFAULT_PREFIX

    def channel(self, channel: str) -> str:
        """The Redis channel of `channel`'s messages and presence changes."""
        return f"{self.prefix}:m:{{{channel}}}"

    def history(self, channel: str) -> str:
        """The Stream of `channel`'s history."""
        return f"{self.prefix}:h:{{{channel}}}"

    def stream(self, channel: str) -> str:
        """The hash of `channel`'s history state: its epoch and last offset."""
        return f"{self.prefix}:s:{{{channel}}}"

    def presence(self, channel: str) -> list[str]:
        """The presence keys of `channel`: entries, expiry, membership, counts."""
        tag = f"{{{channel}}}"
        return [f"{self.prefix}:{kind}:{tag}" for kind in ("pd", "pe", "pm", "pc")]

    def presence_announced(self, channel: str) -> list[str]:
        """The presence keys of `channel`, then its Redis channel, where changes are announced:
        the keys of the presence scripts."""
        return [*self.presence(channel), self.channel(channel)]

    def probe(self, node: str) -> str:
        """The probe channel of the node `node`."""
        return f"{self.prefix}:probe:{{{node}}}"


def message_event(timestamp: int, payload: str) -> str:
    """What a channel carries for a published message."""
    return f"m{timestamp}:{payload}"


def presence_event(identity: str, entry: str | None) -> str:
    """What a channel carries for a presence change; `entry` is the stored JSON text."""
    who = json.dumps(identity, ensure_ascii=False)
    if entry is None:
        return f'p{{"i":{who}}}'
    return f'p{{"i":{who},"e":{entry}}}'


def decode_numbered(data: bytes) -> tuple[int, str, int, str] | None:
    """A stored message's event as `(offset, epoch, timestamp, payload)`; `None` otherwise."""
    if data[:1] != b"o":
        return None
    try:
        offset, epoch, stamp, payload = data[1:].decode().split(":", 3)
    except (UnicodeDecodeError, ValueError):
        return None
    if not (offset.isascii() and offset.isdigit() and stamp.isascii() and stamp.isdigit()):
        return None
    return int(offset), epoch, int(stamp), payload


def decode_event(data: bytes) -> tuple[int, str] | tuple[str, dict[str, Any] | None] | None:
    """A channel's event: `(timestamp, payload)` for a message, `(identity, entry or None)` for
    a presence change, `None` for bytes no sock8 node wrote (logged by the caller)."""
    try:
        text = data.decode()
        kind, body = text[:1], text[1:]
        if kind == "m":
            stamp, sep, payload = body.partition(":")
            if sep and stamp.isdigit():
                return int(stamp), payload
        elif kind == "p":
            value = json.loads(body)
            identity, entry = value.get("i"), value.get("e")
            if isinstance(identity, str) and (entry is None or isinstance(entry, dict)):
                return identity, entry
    except (UnicodeDecodeError, ValueError, AttributeError):
        pass
    return None
