"""Shared fixtures of the gateway tests; the served gateway itself is in harness.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.harness import CHOICE, SERVERS, Setup, running


@pytest.fixture(autouse=True)
def served_by(request: pytest.FixtureRequest) -> Iterator[str]:
    """How this test's gateways are served (see `harness.serving`)."""
    choice = getattr(request, "param", SERVERS[0])
    CHOICE.served_by = choice
    try:
        yield choice
    finally:
        CHOICE.served_by = SERVERS[0]


@pytest.fixture
def anyio_backend() -> str:
    """The socket tests are `pytest.mark.anyio`, on asyncio (uvicorn's loop) only."""
    return "asyncio"


@pytest.fixture
def setup() -> Iterator[Setup]:
    """A gateway with the default settings and a manual clock at `NOW`, served on loopback."""
    with running() as served:
        yield served
