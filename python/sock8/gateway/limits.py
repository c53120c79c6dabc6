"""`Limits`: the gateway's numeric settings, checked once, and read by its sessions and routes."""

from __future__ import annotations

from dataclasses import dataclass

from sock8.errors import ConfigError

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What a gateway tolerates and how long it waits; see `Gateway` for each one's meaning
    and `sock8._gateway_defaults` for the defaults.

    Raises:
        ConfigError: a size, timeout or rate that is not positive, or a burst below 1.
    """

    leeway: float
    auth_timeout: float
    max_frame_bytes: int
    max_publish_bytes: int
    max_presence_bytes: int
    send_buffer: int
    history_size: int
    close_timeout: float
    request_rate: float
    request_burst: int
    presence_rate: float
    presence_burst: int

    def __post_init__(self) -> None:
        for name in (
            "auth_timeout",
            "max_frame_bytes",
            "max_publish_bytes",
            "max_presence_bytes",
            "send_buffer",
            "history_size",
            "close_timeout",
            "request_rate",
            "presence_rate",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"{name} must be positive, not {value!r}")
        for name in ("request_burst", "presence_burst"):
            value = getattr(self, name)
            # A bucket smaller than one token would refuse everything.
            if not value >= 1:
                raise ConfigError(f"{name} must be at least 1, not {value!r}")
