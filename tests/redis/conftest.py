"""A real `redis-server` per test session (flushed before each test) and gateway nodes on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis.server import RedisServer


@pytest.fixture
def anyio_backend() -> str:
    """The socket tests are `pytest.mark.anyio`, on asyncio (uvicorn's loop) only."""
    return "asyncio"


@pytest.fixture(scope="session")
def redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session's server; started once."""
    server = RedisServer.launch(Path(tmp_path_factory.mktemp("redis")))
    try:
        yield server
    finally:
        server.stop()
        server.client.close()


@pytest.fixture
def redis_server(redis_process: RedisServer) -> RedisServer:
    """The server, running (a fault test may have stopped it) and empty."""
    if not redis_process.running:
        redis_process.restart()
    redis_process.client.flushall()
    return redis_process
