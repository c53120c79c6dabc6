"""Parity, docs/spec.md §2 Keys: which secrets are refused (length, key documents) and key
rings."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.core.parity.cases import KEY_RINGS, NASTY_SECRETS
from tests.core.parity.compare import budget, same, verifier_config_view
from tests.core.parity.strategies import any_secrets


@budget(400)
@given(secret=any_secrets)
def test_secret_parity(secret: str | bytes) -> None:
    same(lambda impl: impl.Signer(secret).kid)
    same(lambda impl: impl.Verifier(secret).kids)


@pytest.mark.parametrize("secret", NASTY_SECRETS, ids=lambda s: ascii(s)[:40])
def test_nasty_secrets(secret: object) -> None:
    same(lambda impl: impl.Signer(secret).kid)
    same(lambda impl: impl.Verifier(secret).kids)


@pytest.mark.parametrize("ring", KEY_RINGS, ids=repr)
def test_key_rings(ring: object) -> None:
    same(lambda impl: verifier_config_view(impl.Verifier(ring)))
