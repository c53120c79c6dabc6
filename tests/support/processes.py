"""Child processes the tests start (`sock8 gateway`, its workers): starting, finding and
stopping them."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import free_port
from tests.support.secret import SECRET

STOP_TIMEOUT = 10.0
"""Seconds a process has to exit after SIGTERM before it is killed."""
START_TIMEOUT = 30.0
"""Seconds a `sock8 gateway` has to start serving."""


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc), sorted."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def stop(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM `process` if it still runs; SIGKILL it when it has not exited after `timeout`."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def reap(process: subprocess.Popen[Any], timeout: float) -> None:
    """Kill `process` if it still runs, wait for it, close its stderr pipe: the cleanup after a
    test that stopped it itself (or failed before it could)."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout)
    if process.stderr is not None:
        process.stderr.close()


def gateway_command(*options: str) -> list[str]:
    """`python -m sock8 gateway OPTIONS` for this interpreter."""
    return [sys.executable, "-m", "sock8", "gateway", *options]


def gateway_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with `SOCK8_SECRET` and `extra` set, and no
    `PROMETHEUS_MULTIPROC_DIR` (a `--workers` gateway makes its own)."""
    env = {**os.environ, "SOCK8_SECRET": SECRET, **extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


class GatewayProcess:
    """A `sock8 gateway` process whose stderr (a text pipe) a thread reads, and its port.

    Attributes:
        process: the process.
        port: the port from its "running on" line (0 until `wait_for_port`).
    """

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.port = 0
        self._lines: queue.Queue[str] = queue.Queue()
        self._read: list[str] = []
        self._pumping = threading.Thread(target=self._pump, daemon=True)
        self._pumping.start()

    def wait_for_port(self, timeout: float) -> int:
        """Read stderr until uvicorn says where it runs; fail the test after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.port:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("the gateway did not start:\n" + "".join(self._read))
            self._read.append(line)
            found = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
        return self.port

    def log(self, timeout: float = STOP_TIMEOUT) -> str:
        """Everything the process wrote to stderr, once it has closed it (call after it exits)."""
        self._pumping.join(timeout)
        while not self._lines.empty():
            self._read.append(self._lines.get())
        return "".join(self._read)

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        """Kill the process if it still runs, let the reader finish, close the pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout)
        self._pumping.join(timeout)
        reap(self.process, timeout)

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)


@contextlib.contextmanager
def gateway_process(
    *options: str, env: Mapping[str, str] | None = None, timeout: float = START_TIMEOUT
) -> Iterator[GatewayProcess]:
    """`python -m sock8 gateway --port 0 --log-level info OPTIONS` (environment: see
    `gateway_environment`), yielded once it has logged its port; killed if it still runs at the
    end."""
    argv = gateway_command("--port", "0", "--log-level", "info", *options)
    process = subprocess.Popen(  # noqa: S603 - our own arguments
        argv,
        env=gateway_environment(env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    gateway = GatewayProcess(process)
    try:
        gateway.wait_for_port(timeout)
        yield gateway
    finally:
        gateway.close(timeout)


@contextlib.contextmanager
def workers(
    redis_url: str,
    count: int,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`python -m sock8 gateway --workers COUNT --redis URL` on a free port (environment: see
    `gateway_environment`), yielded with its port once `/health` answers and every worker is
    forked; stopped with SIGTERM (as a service manager does) at the end."""
    port = free_port()
    argv = gateway_command("--port", str(port), "--workers", str(count), "--redis", redis_url)
    argv += ["--log-level", "warning"]
    process = subprocess.Popen(argv, env=gateway_environment(env or {}))  # noqa: S603 - ours
    try:
        deadline = time.monotonic() + timeout
        answer: httpx.Response | None = None
        while answer is None or answer.status_code != 200 or len(children(process.pid)) < count:
            if process.poll() is not None:
                pytest.fail(f"sock8 gateway --workers {count} exited with {process.returncode}")
            if time.monotonic() > deadline:
                pytest.fail(f"sock8 gateway --workers {count} did not start: {answer!r}")
            time.sleep(0.05)
            # Refused until the port is served: retried until the deadline.
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        yield process, port
    finally:
        stop(process, timeout)
