"""Reconnect delays: capped exponential backoff with full jitter.

Full jitter (a uniformly random delay between zero and the exponential ceiling) spreads the
reconnects of many clients that lost the same gateway at the same moment, instead of bringing
them back in synchronized waves ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015;
the scheme of Centrifugo's and Ably's client SDKs).
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass

from sock8.errors import ConfigError

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a client waits before its next reconnect attempt.

    Attempt `n` (counted from 0 after the last stable connection) waits
    `random() * min(cap, base * factor ** n)` seconds.

    Attributes:
        base: the ceiling of the first delay, in seconds.
        cap: the largest ceiling, in seconds; delays never exceed it.
        factor: how much the ceiling grows per failed attempt.
        reset_after: a connection that stayed up this many seconds counts as stable: the next
            drop starts again from attempt 0.
        random: a function returning a float in [0, 1); tests inject a fixed one.

    Raises:
        ConfigError: `base` is not positive, `cap` is below `base`, `factor` is below 1, or
            `reset_after` is negative.
    """

    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    reset_after: float = 60.0
    random: Callable[[], float] = _random.random

    def __post_init__(self) -> None:
        if not self.base > 0:
            raise ConfigError(f"base must be positive, not {self.base!r}")
        if not self.cap >= self.base:
            raise ConfigError(f"cap must be at least base ({self.base!r}), not {self.cap!r}")
        if not self.factor >= 1:
            raise ConfigError(f"factor must be at least 1, not {self.factor!r}")
        if not self.reset_after >= 0:
            raise ConfigError(f"reset_after must not be negative, not {self.reset_after!r}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay of attempt `attempt` (from 0): `min(cap, base * factor ** attempt)`."""
        if attempt < 0:
            raise ValueError(f"attempt must not be negative, not {attempt}")
        try:
            grown = self.base * self.factor**attempt
        except OverflowError:
            # Thousands of failed attempts: the ceiling has long been the cap.
            return self.cap
        return min(self.cap, grown)

    def delay(self, attempt: int) -> float:
        """A random delay in `[0, ceiling(attempt))` seconds (full jitter)."""
        return self.random() * self.ceiling(attempt)
