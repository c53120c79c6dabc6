"""`Inbox`: the delivered messages of a `sock8.Client` waiting for its consumer."""

from __future__ import annotations

import asyncio
from collections import deque

from sock8.client.values import ClientMessage

__all__ = ["Inbox"]


class Inbox:
    """Delivered messages waiting for the consumer. Internal: `Client` iterates it.

    Bounded: when the consumer falls behind, the socket reader waits, the socket's buffers fill,
    and the gateway eventually closes the connection as a slow consumer (4008) instead of this
    process growing without bound.

    Arguments:
        limit: how many messages wait before `put` does.
    """

    def __init__(self, limit: int) -> None:
        self._items: deque[ClientMessage] = deque()
        self._limit = limit
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.ended = False
        """Set by `end`: nothing more comes in."""

    async def put(self, message: ClientMessage) -> None:
        """Add a message; waits while the inbox is full. Dropped once the inbox ended."""
        while len(self._items) >= self._limit and not self.ended:
            self._writable.clear()
            await self._writable.wait()
        if not self.ended:
            self._items.append(message)
            self._readable.set()

    async def get(self) -> ClientMessage | None:
        """The next message; waits for one. `None` once the inbox ended and is empty."""
        while not self._items:
            if self.ended:
                return None
            self._readable.clear()
            await self._readable.wait()
        message = self._items.popleft()
        if len(self._items) < self._limit:
            self._writable.set()
        return message

    def end(self) -> None:
        """Take no more messages; `get` hands out those already in, then `None`."""
        self.ended = True
        self._readable.set()
        self._writable.set()
