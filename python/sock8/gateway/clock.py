"""The gateway's clock: wall time for tokens and presence, and timers for deadlines.

Everything in the gateway that depends on time goes through a `Clock`: token verification
(`now`), token expiry (a timer at `exp`), the auth deadline, presence `lastSeen` and history
timestamps. `SystemClock` is the real one. `ManualClock` only moves when told to, so that tests
check expiry and deadlines without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "Timer"]


class Timer(Protocol):
    """A scheduled callback (`asyncio.TimerHandle` is one)."""

    def cancel(self) -> None:
        """Do not run the callback; idempotent, and harmless after it ran."""


@runtime_checkable
class Clock(Protocol):
    """Wall time plus timers on the running event loop."""

    def time(self) -> float:
        """Now, in epoch seconds."""

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """Run `callback` on the calling event loop once `time()` reaches `when` (epoch seconds).

        Must be called from a running event loop; the callback runs on that loop.
        """


class SystemClock:
    """The system's wall clock; timers run on the event loop's monotonic clock."""

    def time(self) -> float:
        """`time.time()`."""
        return time.time()

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """`loop.call_later(when - time.time(), callback)` on the running loop."""
        loop = asyncio.get_running_loop()
        # The loop's clock is monotonic; converting once means a wall-clock jump (NTP) moves a
        # deadline by at most that jump, never fires it twice.
        return loop.call_later(max(0.0, when - time.time()), callback)

    def __repr__(self) -> str:
        return "SystemClock()"


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "loop", "when")

    def __init__(
        self, when: float, callback: Callable[[], object], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.when = when
        self.callback = callback
        self.loop = loop
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        # Checked again on the loop: the owner may have cancelled it in between.
        if not self.cancelled:
            self.cancelled = True
            self.callback()


class ManualClock:
    """A clock that only moves when `advance` or `set` is called: for tests.

    Timers are kept in a heap; moving the clock runs every due timer on the loop that scheduled
    it (thread-safe: the test may drive a gateway that runs in another thread).

    Arguments:
        start: the initial time in epoch seconds; defaults to the system's current time, so
            that tokens signed with the real clock verify.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._timers: list[tuple[float, int, _ManualTimer]] = []

    def time(self) -> float:
        """The current manual time."""
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """Schedule `callback` for when the clock is moved to `when` or later."""
        timer = _ManualTimer(when, callback, asyncio.get_running_loop())
        with self._lock:
            if when <= self._now:
                due = True
            else:
                due = False
                heapq.heappush(self._timers, (when, next(self._order), timer))
        if due:
            timer.loop.call_soon(timer.fire)
        return timer

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` and run the timers that became due."""
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self.set(self._now + seconds)

    def set(self, now: float) -> None:
        """Move the clock to `now` (not backwards) and run the timers that became due."""
        with self._lock:
            if now < self._now:
                raise ValueError("a clock never goes back")
            self._now = now
            due: list[_ManualTimer] = []
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[2])
        for timer in due:
            if timer.cancelled:
                continue
            try:
                timer.loop.call_soon_threadsafe(timer.fire)
            except RuntimeError:
                # That loop has closed: nothing is left to time out there.
                continue

    @property
    def pending(self) -> int:
        """How many timers are scheduled and not cancelled (for tests)."""
        with self._lock:
            return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"
