"""Parity, docs/spec.md §3 Signing: the signer's settings, `sign` on any arguments, its defaults
(`jti`, `now`) and its edges."""

from __future__ import annotations

import base64
import json
import math
import time
from types import ModuleType

import pytest
from hypothesis import given

from tests.core import reference as ref
from tests.core.parity.cases import SIGN_EDGES, SIGN_TYPE_EDGES, SIGNER_OPTIONS
from tests.core.parity.compare import (
    REFERENCE,
    RUST,
    budget,
    raised,
    returned,
    same,
    signer_config_view,
)
from tests.core.parity.crafting import NOW, S1
from tests.core.parity.strategies import SignCase, sign_cases


@pytest.mark.parametrize("options", SIGNER_OPTIONS, ids=repr)
def test_signer_options(options: dict[str, object]) -> None:
    same(lambda impl: signer_config_view(impl.Signer(S1, **options)))


@budget(300)
@given(case=sign_cases())
def test_sign_parity(case: SignCase) -> None:
    result = same(case.sign)
    if case.fault is None:
        returned(result)
    else:
        raised(result)


def test_default_jti_is_128_random_bits() -> None:
    for impl in (RUST, REFERENCE):
        signer = impl.Signer(S1)
        jti_values = set()
        for _ in range(3):
            token = signer.sign("u", [], now=NOW)
            payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
            jti = payload["jti"]
            assert isinstance(jti, str), impl.__name__
            assert len(jti) == 22, impl.__name__
            assert len(ref.b64url_decode(jti.encode("ascii"))) == 16, impl.__name__
            jti_values.add(jti)
        assert len(jti_values) == 3, impl.__name__


def test_default_now_is_the_clock() -> None:
    for impl in (RUST, REFERENCE):
        before = math.floor(time.time())
        token = impl.Signer(S1).sign("u", [], jti="j")
        after = math.floor(time.time())
        grants = ref.Verifier(S1, leeway=5).verify(token, now=after)
        assert before <= grants.issued_at <= after, impl.__name__
        assert grants.expires_at == grants.issued_at + 3600, impl.__name__


@pytest.mark.parametrize(("name", "overrides"), SIGN_EDGES, ids=[n for n, _ in SIGN_EDGES])
def test_sign_edges(name: str, overrides: dict[str, object]) -> None:
    del name
    arguments: dict[str, object] = {"identity": "u1", "channels": ["a.b"], "now": NOW, "jti": "j"}
    arguments.update(overrides)

    def sign(impl: ModuleType) -> object:
        identity = arguments.pop("identity")
        channels = arguments.pop("channels")
        try:
            return impl.Signer(S1).sign(identity, channels, **arguments)
        finally:
            arguments["identity"], arguments["channels"] = identity, channels

    same(sign)


@pytest.mark.parametrize(
    ("name", "overrides"), SIGN_TYPE_EDGES, ids=[n for n, _ in SIGN_TYPE_EDGES]
)
def test_sign_type_edges(name: str, overrides: dict[str, object]) -> None:
    del name
    same(lambda impl: impl.Signer(S1).sign("u1", ["a.b"], jti="j", **{"now": NOW, **overrides}))
