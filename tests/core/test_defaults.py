"""Defaults defined once (rust/src/core/limits.rs, exported by rust/src/py/constants.rs).

The `#[pyo3(text_signature)]` strings must spell their defaults as literals (`ttl=3600`): these
tests pin each literal to the exported constant, and check that an omitted argument means that
constant. `mypy.stubtest` then holds `_core.pyi` to the same signatures.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from sock8 import ConfigError, HttpPublisher, Signer, Sock8, Verifier
from sock8._core import (
    DEFAULT_AUDIENCE,
    DEFAULT_TTL,
    MAX_CHANNELS,
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_DEPTH,
    MAX_TOKEN_BYTES,
    Keys,
    check_json,
)
from sock8.cli import build_parser
from sock8.gateway import Gateway, create_app

NOW = 1_700_000_000


def defaults(function: Callable[..., Any]) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def test_the_exported_defaults() -> None:
    # docs/spec.md §3 and §4 state these values.
    assert DEFAULT_AUDIENCE == "sock8"
    assert DEFAULT_TTL == 3600


SIGNER_DEFAULTS = {"kid": None, "audience": DEFAULT_AUDIENCE, "issuer": None, "ttl": DEFAULT_TTL}
VERIFIER_DEFAULTS = {
    "audience": DEFAULT_AUDIENCE,
    "issuer": None,
    "leeway": 0,
    "max_token_bytes": MAX_TOKEN_BYTES,
    "max_depth": MAX_JSON_DEPTH,
    "max_channels": MAX_CHANNELS,
}


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (Signer, SIGNER_DEFAULTS),
        (Keys.signer, {k: v for k, v in SIGNER_DEFAULTS.items() if k != "kid"}),
        (Verifier, VERIFIER_DEFAULTS),
        (Keys.verifier, VERIFIER_DEFAULTS),
        (check_json, {"max_depth": MAX_PAYLOAD_DEPTH}),
    ],
)
def test_signature_defaults_are_the_constants(
    function: Callable[..., Any], expected: dict[str, Any]
) -> None:
    assert defaults(function) == expected


def test_an_omitted_argument_is_the_constant(secret: str) -> None:
    keys = Keys({"k": secret})
    for signer in (Signer(secret), keys.signer("k")):
        assert (signer.audience, signer.ttl) == (DEFAULT_AUDIENCE, DEFAULT_TTL)
        token = signer.sign("u", [], now=NOW)
        grants = Verifier({signer.kid: secret}).verify(token, now=NOW)
        assert grants.expires_at - grants.issued_at == DEFAULT_TTL
    for verifier in (Verifier(secret), keys.verifier()):
        assert verifier.audience == DEFAULT_AUDIENCE
    check_json("[" * MAX_PAYLOAD_DEPTH + "]" * MAX_PAYLOAD_DEPTH)
    with pytest.raises(ValueError, match="invalid JSON"):
        check_json("[" * (MAX_PAYLOAD_DEPTH + 1) + "]" * (MAX_PAYLOAD_DEPTH + 1))


def test_the_python_layers_use_the_constants(secret: str) -> None:
    assert defaults(Sock8)["token_ttl"] == DEFAULT_TTL
    assert defaults(Sock8)["audience"] == DEFAULT_AUDIENCE
    assert defaults(HttpPublisher)["audience"] == DEFAULT_AUDIENCE
    s8 = Sock8(secret)
    assert (s8.signer.audience, s8.token_ttl) == (DEFAULT_AUDIENCE, DEFAULT_TTL)
    assert build_parser().parse_args(["gateway"]).audience == DEFAULT_AUDIENCE


# The gateway tells "no audience given" from the default passed explicitly.


@pytest.mark.parametrize("make", [Gateway, create_app])
def test_the_gateway_refuses_an_audience_beside_s8(make: Callable[..., Any], secret: str) -> None:
    s8 = Sock8(secret, audience="app")
    for audience in (DEFAULT_AUDIENCE, None, "app"):
        with pytest.raises(ConfigError, match="not both"):
            make(s8, audience=audience)


def test_the_gateway_takes_the_audience_from_s8(secret: str) -> None:
    s8 = Sock8(secret, audience="app")
    gateway = Gateway(s8)
    assert gateway.verifier.audience == "app"
    assert create_app(Sock8(secret, audience=None)).state.gateway.verifier.audience is None


def test_without_s8_an_omitted_audience_is_the_default(secret: str) -> None:
    assert Gateway(secret=secret).verifier.audience == DEFAULT_AUDIENCE
    assert create_app(secret=secret).state.gateway.verifier.audience == DEFAULT_AUDIENCE
    assert Gateway(secret=secret, audience=None).verifier.audience is None


def test_the_gateway_shows_its_default_audience() -> None:
    # `help(Gateway)` shows `audience=... = 'sock8'`; the default itself stands for "not given".
    for function in (Gateway, create_app):
        default = inspect.signature(function).parameters["audience"].default
        assert repr(default) == repr(DEFAULT_AUDIENCE)
        assert default is not DEFAULT_AUDIENCE
