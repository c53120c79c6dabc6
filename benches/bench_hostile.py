"""What hostile input costs: each group times a small refused input beside a huge one.

The tests (tests/core/test_hostile_input.py) show *structurally* that hostile input is refused
early (the size check comes first, the parser stops at the depth limit); these benchmarks show the
cost.
In a group, the huge input should cost about what the small one does. Two groups are known to
scale with the input and are here to keep that visible: `allows` with a non-ASCII probe (Python
encodes the str to UTF-8 first) and `render` with a huge value (escaped before the size check).

`make bench` times them; in `make test` pytest-benchmark runs each once, untimed, so the
outcome assertions still run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest
import sock8
from pytest_benchmark.fixture import BenchmarkFixture

SECRET = "bench-hostile-secret-0123456789abcdef-0123456789"
NOW = 1_700_000_000
MIB = 1 << 20
VERIFIER = sock8.Verifier(SECRET)


def b64(data: bytes) -> str:
    """Canonical base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(header: bytes, payload: bytes) -> str:
    """A compact JWS MACed with SECRET."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    tag = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(tag)}"


def refusal(call: Callable[[], object]) -> str:
    """The name of the sock8 error `call` raises, or "ok"."""
    try:
        call()
    except sock8.Sock8Error as error:
        return type(error).__name__
    return "ok"


CLAIMS = json.dumps(
    {"sub": "u", "aud": "sock8", "iat": NOW, "exp": NOW + 60, "channels": ["a"]}
).encode()
TOKENS = {
    "valid": (craft(b'{"alg":"HS256"}', CLAIMS), "ok"),
    "1 KiB of garbage": ("A" * 1024, "MalformedToken"),
    "1 MiB of garbage": ("A" * MIB, "MalformedToken"),
    "1 MiB of dots": ("." * MIB, "MalformedToken"),
    "1 MiB, signed, valid but for size": (
        craft(b'{"alg":"HS256"}', CLAIMS[:-1] + b',"pad":"' + b"A" * MIB + b'"}'),
        "MalformedToken",
    ),
    "header 9 deep": (craft(b'{"alg":"HS256","x":' + b"[" * 9, CLAIMS), "MalformedToken"),
    "header 100k deep": (
        craft(b'{"alg":"HS256","x":' + b"[" * 100_000, CLAIMS),
        "MalformedToken",
    ),
}


@pytest.mark.benchmark(group="verify: hostile tokens")
@pytest.mark.parametrize("name", TOKENS)
def test_verify_hostile(benchmark: BenchmarkFixture, name: str) -> None:
    token, expected = TOKENS[name]
    result = benchmark(refusal, lambda: VERIFIER.verify(token, now=NOW))
    assert result == expected


IDS = {
    "513 bytes": "a" * 513,
    "a million dots": "." * 1_000_000,
    "half a million segments": "a." * 500_000,
    "a valid id": "chat.r%201##roomId.messages",
}


@pytest.mark.benchmark(group="parse_channel: hostile ids")
@pytest.mark.parametrize("name", IDS)
def test_parse_hostile(benchmark: BenchmarkFixture, name: str) -> None:
    expected = "ok" if name == "a valid id" else "ChannelError"
    assert benchmark(refusal, lambda: sock8.parse_channel(IDS[name])) == expected


GRANTS = {
    n: VERIFIER.verify(
        sock8.Signer(SECRET).sign("u", [f"room.r{i}##roomId" for i in range(n)], now=NOW),
        now=NOW,
    )
    for n in (1, 100)
}
PROBES = {
    "short": "room.x##roomId",
    "1 MiB ASCII": "r" * MIB,
    "1 MiB non-ASCII": "\u00e9" * (MIB // 2),
}


@pytest.mark.benchmark(group="allows: hostile probes")
@pytest.mark.parametrize("grants", GRANTS, ids=lambda n: f"{n} grants")
@pytest.mark.parametrize("probe", PROBES)
def test_allows_hostile(benchmark: BenchmarkFixture, grants: int, probe: str) -> None:
    assert benchmark(GRANTS[grants].allows, PROBES[probe]) is False


VALUES: dict[str, str | int] = {
    "600 characters": "v" * 600,
    "1 MiB": "v" * MIB,
    "int of 5,000 digits": 10**4999,
}


@pytest.mark.benchmark(group="render: hostile values")
@pytest.mark.parametrize("name", VALUES)
def test_render_hostile(benchmark: BenchmarkFixture, name: str) -> None:
    values = {"id": VALUES[name]}
    call = lambda: sock8.render_channel("user.{id}", values)  # noqa: E731 - timed as is
    assert benchmark(refusal, call) == "ChannelError"
