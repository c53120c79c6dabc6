"""`make demo-redis`: the demo across two real `sock8 gateway --redis` processes and a private
redis-server passes, fails when sock8 misbehaves, and leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sock8.demo.__main__ import main
from sock8.demo.app import DemoApp
from sock8.demo.cluster import run_cluster

from tests.support.script_logging import logging_restored


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    with logging_restored():
        yield


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_demo_across_two_gateways_passes_and_stops_everything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--redis"]) == 0
    transcript = capsys.readouterr().out
    assert "FAILED" not in transcript
    assert "all 9 steps passed" in transcript
    for line in [
        "nodes  connections: A 1, B 1",
        'alice  <- chat.lobby##roomId.messages  {"author": "bob", "text": "hi from B"}',
        "bob    <- presenceUpdate: alice typing=true",
        "alice  setPresence {'typing': 'maybe'} -> error invalid_presence",
        "bob    GET /history/chat.lobby##roomId.messages on node B -> "
        "['standup in 5 minutes', 'hi from B']",
        "redis  PUBSUB NUMSUB chat.lobby##roomId.messages -> 1",
        "redis  PUBSUB NUMSUB of the lobby and both inboxes -> 0 in all",
    ]:
        assert line in transcript
    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", transcript)]
    assert len(pids) == 2
    assert all(_gone(pid) for pid in pids)
    redis_port = re.search(r"redis-server at redis://127\.0\.0\.1:(\d+)/0", transcript)
    assert redis_port is not None
    assert _refused(int(redis_port.group(1)))


def test_the_demo_fails_when_an_expectation_does_not_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An app that forgets to take bob out of the room: his refreshed token still grants it.
    monkeypatch.setattr(DemoApp, "remove_member", lambda self, room, user: None)
    lines: list[str] = []
    assert asyncio.run(run_cluster(lines.append)) is False
    assert lines[-1] == "FAILED at step 8: bob's new token grants only his notifications"
    assert not any("steps passed" in line for line in lines)


def test_the_demo_says_so_when_redis_server_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    lines: list[str] = []
    assert asyncio.run(run_cluster(lines.append)) is False
    assert lines == ["FAILED: redis-server is not installed (Debian: apt-get install redis-server)"]
