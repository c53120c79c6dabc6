"""A real `redis-server` for the tests: started on a free loopback port with no persistence,
stopped and started again on the same port by the fault tests.

    server = RedisServer.start(tmp_dir)
    server.stop(); server.restart()
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.live_server import free_port

START_TIMEOUT = 10.0


@dataclass
class RedisServer:
    """One `redis-server` process on `127.0.0.1:port`."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    client: redis.Redis = field(init=False)

    def __post_init__(self) -> None:
        self.client = redis.Redis(port=self.port, protocol=2, socket_timeout=5)

    @property
    def url(self) -> str:
        """`redis://127.0.0.1:<port>/0`."""
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def launch(cls, directory: Path) -> RedisServer:
        """Start a server on a free port (`redis-server` from PATH)."""
        server = cls(free_port(), directory)
        server.restart()
        return server

    def restart(self) -> None:
        """Start the server on its port (after `stop`), and wait until it answers."""
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (make system installs it)")
        arguments = [executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        arguments += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if self.client.ping():
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server (its clients see their connections close)."""
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            process.wait(10)
        self.client.connection_pool.disconnect()

    @property
    def running(self) -> bool:
        """Whether the process is up."""
        return self.process is not None and self.process.poll() is None

    def numsub(self, redis_channel: str) -> int:
        """How many connections hold `redis_channel` (`PUBSUB NUMSUB`)."""
        answer = self.client.pubsub_numsub(redis_channel)
        return int(answer[0][1])

    def channels(self) -> list[str]:
        """Every Redis channel some connection holds (`PUBSUB CHANNELS`)."""
        names = self.client.pubsub_channels()
        return sorted(name.decode() if isinstance(name, bytes) else name for name in names)
