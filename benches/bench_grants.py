"""pytest-benchmark suites for grant checks and channel ids (see bench_tokens.py for how they run).

Also a smoke run of benches/compare.py, so the comparison `make bench` prints cannot rot.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol, TypeVar

import _peers
import pytest
import sock8

T = TypeVar("T")

GRANTS = [1, 100, 10_000]
MISS = "chat.r99999##roomId.messages"
VALUES = {"roomId": "r 1"}
WIRE_ID = "chat.r%201##roomId.messages"


class Benchmark(Protocol):
    """The `benchmark` fixture of pytest-benchmark, as these suites call it."""

    def __call__(self, function: Callable[..., T], /, *args: object) -> T: ...


def grants_for(n: int) -> tuple[sock8.Grants, list[str]]:
    channels = _peers.channel_ids(n)
    return _peers.verifier().verify(_peers.token_for(channels)), channels


@pytest.mark.parametrize("n", GRANTS)
def test_allows_sock8(benchmark: Benchmark, n: int) -> None:
    grants, channels = grants_for(n)
    channel = "".join(list(_peers.probe(channels)))  # equal, not the same object
    assert benchmark(grants.allows, channel) is True
    assert not grants.allows(MISS)
    assert len(grants) == n


@pytest.mark.parametrize("n", GRANTS)
def test_contains_frozenset(benchmark: Benchmark, n: int) -> None:
    """The baseline `grants.allows` is held to (within 2.5x: a target of compare.py)."""
    channels = _peers.channel_ids(n)
    granted = frozenset(channels)
    channel = "".join(list(_peers.probe(channels)))
    assert benchmark(granted.__contains__, channel) is True


def test_render_sock8(benchmark: Benchmark) -> None:
    template = sock8.ChannelTemplate(_peers.TEMPLATE)
    assert benchmark(template.render, VALUES) == WIRE_ID


def test_parse_sock8(benchmark: Benchmark) -> None:
    assert benchmark(sock8.parse_channel, WIRE_ID) == (_peers.TEMPLATE, VALUES)


def test_render_and_parse_reference(benchmark: Benchmark) -> None:
    reference = _peers.reference()
    if reference is None:
        pytest.skip("tests/core/reference.py is not there")
    template = reference.ChannelTemplate(_peers.TEMPLATE)
    assert benchmark(template.render, VALUES) == WIRE_ID
    assert reference.parse_channel(WIRE_ID) == (_peers.TEMPLATE, VALUES)


def test_compare_smoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """benches/compare.py builds, times and prints its tables (two tiny rounds of a few rows)."""
    import compare

    monkeypatch.setattr(
        sys, "argv", ["compare.py", "--rounds", "2", "--block-ms", "0.05", "-k", "1 grant"]
    )
    compare.main()
    out = capsys.readouterr().out
    assert "| allows, 1 grant | **" in out
    assert "allows ≤ 2.5x frozenset.__contains__, 1 grant" in out
    assert "Machine: " in out
