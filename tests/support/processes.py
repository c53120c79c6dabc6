"""Child processes the tests start (`sock8 gateway`, its workers): finding and stopping them."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Any

STOP_TIMEOUT = 10.0
"""Seconds a process has to exit after SIGTERM before it is killed."""


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
