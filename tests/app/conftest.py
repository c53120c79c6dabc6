"""Shared fixtures of the app tests (`Sock8`, channel trees, brokers and publishers)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["httpx", "urllib"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`HttpPublisher`'s transport: httpx, or the standard library when httpx is missing."""
    if request.param == "urllib":
        monkeypatch.setattr("sock8.http_publisher.httpx", None)
    return str(request.param)
