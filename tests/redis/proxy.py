"""A TCP proxy in front of Redis that can go silent: the half-open connection of a dead
network path or a failover, which a socket-level check cannot see.

    async with FreezingProxy(server.port) as proxy:      # on the test's event loop
        url = proxy.url
        proxy.freeze()      # the connections open now stay open and carry nothing more
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class _Link:
    def __init__(self) -> None:
        self.frozen = False
        self.writers: list[asyncio.StreamWriter] = []


class FreezingProxy:
    """Forwards `127.0.0.1:<port>` to Redis on `target`, until `freeze`."""

    def __init__(self, target: int) -> None:
        self._target = target
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The Redis URL through the proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        """The connections open now carry nothing more, in either direction; they stay open.
        Connections made later pass."""
        for link in self._links:
            link.frozen = True
        self._links = []

    async def __aenter__(self) -> FreezingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        link = _Link()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self._target
            )
        except OSError:
            writer.close()
            return
        link.writers = [writer, upstream_writer]
        self._links.append(link)
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer, link), self._pipe(upstream_reader, writer, link)
            )
        finally:
            for each in link.writers:
                each.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(
        source: asyncio.StreamReader, target: asyncio.StreamWriter, link: _Link
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await source.read(65536):
                if link.frozen:
                    continue  # swallowed: the peer sees a live socket that says nothing
                target.write(data)
                await target.drain()
