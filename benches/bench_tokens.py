"""pytest-benchmark suites for signing and verifying, sock8 and its peers.

`make test` runs them once each, untimed (`--benchmark-disable`), so they stay correct: every case
asserts its result, and peer tokens must verify with sock8. A peer that is not installed is
skipped; the sock8 cases always run. Timed, for regression tracking:
`.venv/bin/pytest benches --benchmark-enable` (add `--benchmark-autosave` to keep a history).
The side-by-side comparison table is `make bench` (benches/compare.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import _peers
import pytest

T = TypeVar("T")

SIZES = [1, 10, 100]
PEERS = list(_peers.PEER_LOADERS)
#: The distribution each peer needs, for a clean skip where it is not installed.
PEER_MODULES = {"pyjwt": "jwt", "joserfc": "joserfc", "stdlib": "orjson"}


class Benchmark(Protocol):
    """The `benchmark` fixture of pytest-benchmark, as these suites call it."""

    def __call__(self, function: Callable[..., T], /, *args: object) -> T: ...


def require(name: str) -> _peers.Peer:
    """Peer `name`, or a skip that says why it is missing."""
    if module := PEER_MODULES.get(name):
        pytest.importorskip(module)
    peer = _peers.peer(name)
    if peer.missing is not None:
        pytest.skip(f"{peer.label}: {peer.missing}")
    return peer


@pytest.mark.parametrize("n", SIZES)
def test_sign_sock8(benchmark: Benchmark, n: int) -> None:
    signer, verifier = _peers.signer(), _peers.verifier()
    channels = _peers.channel_ids(n)
    token = benchmark(signer.sign, _peers.IDENTITY, channels)
    grants = verifier.verify(token)
    assert grants.identity == _peers.IDENTITY
    assert grants.channels == tuple(channels)


@pytest.mark.parametrize("n", [*SIZES, 1_000])
def test_verify_allows_sock8(benchmark: Benchmark, n: int) -> None:
    verify = _peers.verifier().verify
    channels = _peers.channel_ids(n)
    token, channel = _peers.token_for(channels), _peers.probe(channels)
    assert benchmark(lambda: verify(token).allows(channel)) is True
    assert not verify(token).allows("chat.r99999##roomId.messages")


@pytest.mark.parametrize("name", PEERS)
@pytest.mark.parametrize("n", SIZES)
def test_sign_peer(benchmark: Benchmark, name: str, n: int) -> None:
    peer = require(name)
    assert peer.sign is not None
    channels = _peers.channel_ids(n)
    token = benchmark(peer.sign, _peers.claims_for(channels))
    # What the peer signs, sock8 verifies.
    assert _peers.verifier().verify(token).allows(_peers.probe(channels))


@pytest.mark.parametrize("name", PEERS)
@pytest.mark.parametrize("n", SIZES)
def test_verify_allows_peer(benchmark: Benchmark, name: str, n: int) -> None:
    peer = require(name)
    assert peer.verify_allows is not None
    channels = _peers.channel_ids(n)
    token = _peers.token_for(channels)
    assert benchmark(peer.verify_allows, token, _peers.probe(channels)) is True
    assert peer.verify_allows(token, "chat.r99999##roomId.messages") is False
