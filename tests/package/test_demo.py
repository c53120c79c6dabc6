"""`make demo`: the scripted scenario runs in-process, passes, and fails when sock8 misbehaves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sock8.demo.__main__ import main
from sock8.demo.app import DemoApp
from sock8.demo.scenario import run

from tests.support.script_logging import logging_restored


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    with logging_restored():
        yield


def test_the_demo_scenario_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    transcript = capsys.readouterr().out
    assert "FAILED" not in transcript
    assert "all 8 steps passed" in transcript
    for line in [
        "1. alice and bob sign in to the app",
        "connect() raised Unauthorized",
        "bob    <- presenceUpdate: alice typing=true",
        "alice  subscribe notification.bob##userId -> error forbidden",
        "bob    refresh -> granted notification.bob##userId",
    ]:
        assert line in transcript


def test_the_demo_fails_when_an_expectation_does_not_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An app that forgets to take bob out of the room: his refreshed token still grants it.
    monkeypatch.setattr(DemoApp, "remove_member", lambda self, room, user: None)
    lines: list[str] = []
    assert asyncio.run(run(lines.append)) is False
    assert lines[-1] == "FAILED at step 8: bob's new token grants only his notifications"
    assert not any("steps passed" in line for line in lines)
