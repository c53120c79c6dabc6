"""Shared fixtures of the gateway tests; the served gateway itself is in harness.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.harness import CHOICE, SERVERS, Setup, running

SOCKET_MODULES = {
    "test_fan_out_load",
    "test_http_routes",
    "test_presence",
    "test_rate_limits",
    "test_websocket",
}
"""The modules whose tests serve a gateway: each of their tests runs once per server."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Serve the socket tests both ways (`harness.SERVERS`)."""
    if metafunc.module.__name__.rpartition(".")[2] in SOCKET_MODULES:
        metafunc.parametrize("served_by", SERVERS, indirect=True)


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
