"""Parity, docs/spec.md §4 Verification: the verifier's settings; signed tokens as they are and
tampered with; crafted claims, headers, raw JSON and decimal times; multi-key verifiers; and the
explicit nasty tokens, whose outcomes are pinned."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.core.parity.cases import NASTY_TOKEN_OUTCOMES, NASTY_TOKENS, VERIFIER_OPTIONS
from tests.core.parity.compare import (
    REFERENCE,
    RUST,
    budget,
    raised,
    returned,
    same,
    verifier_config_view,
    verify_view,
)
from tests.core.parity.crafting import (
    HEADER,
    NOW,
    S1,
    S2,
    S3,
    WRONG,
    claims,
    craft,
    dumps,
    time_token,
)
from tests.core.parity.strategies import (
    SignCase,
    VerifierCase,
    crafted_claims,
    crafted_headers,
    crafted_nows,
    leeways,
    mutated_tokens,
    random_tokens,
    raw_json,
    short_decimals,
    sign_cases,
    valid_wire_ids,
    verifier_cases,
    verify_nows,
)

# --------------------------------------------------------------------------------------------
# §4 Verification: the verifier's settings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", VERIFIER_OPTIONS, ids=repr)
def test_verifier_options(options: dict[str, object]) -> None:
    same(lambda impl: verifier_config_view(impl.Verifier(S1, **options)))


# --------------------------------------------------------------------------------------------
# §4 Verification: signed tokens, as they are and tampered with
# --------------------------------------------------------------------------------------------


@budget(250)
@given(case=sign_cases(faults=False), leeway=leeways, data=st.data())
def test_signed_tokens_verify_alike(case: SignCase, leeway: float, data: st.DataObject) -> None:
    token = returned(same(case.sign))
    assert isinstance(token, str)
    now = data.draw(verify_nows(case.iat, case.iat + case.lifetime, leeway), label="now")
    audience = data.draw(st.sampled_from([case.audience, None, "sock8", "other"]), label="aud")
    issuer = data.draw(st.sampled_from([None, case.issuer, "other"]), label="iss")
    form: str | bytes = token.encode("ascii") if data.draw(st.booleans()) else token
    verifier_secret: object = case.secret
    if case.kid is not None:
        verifier_secret = {case.kid: case.secret, None: WRONG}
    same(
        lambda impl: verify_view(
            impl.Verifier(verifier_secret, audience=audience, issuer=issuer, leeway=leeway),
            form,
            now,
        )
    )


@budget(100)
@given(case=sign_cases(faults=False))
def test_signed_tokens_are_accepted(case: SignCase) -> None:
    """Both verifiers accept a fresh token and report exactly what was signed."""
    token = returned(same(case.sign))
    ring = {case.kid: case.secret}
    now = case.iat
    for impl in (RUST, REFERENCE):
        verifier = impl.Verifier(ring, audience=case.audience, issuer=case.issuer)
        grants = verifier.verify(token, now=now)
        assert grants.identity == case.identity
        assert grants.channels == tuple(sorted(set(case.channels)))
        assert grants.issued_at == case.iat
        assert grants.expires_at == case.iat + case.lifetime
        assert grants.jti == case.jti
        assert all(grants.allows(channel) for channel in case.channels)


@budget(300)
@given(case=sign_cases(faults=False), data=st.data())
def test_mutated_tokens_parity(case: SignCase, data: st.DataObject) -> None:
    token = returned(same(case.sign))
    assert isinstance(token, str)
    broken = data.draw(mutated_tokens(token), label="token")
    ring = {case.kid: case.secret}
    same(lambda impl: verify_view(impl.Verifier(ring, audience=case.audience), broken, case.iat))


@budget(300)
@given(token=random_tokens)
def test_random_tokens_parity(token: str | bytes) -> None:
    same(lambda impl: verify_view(impl.Verifier(S1), token, NOW))


@pytest.mark.parametrize(
    "token", [5, None, bytearray(b"a.b.c"), memoryview(b"a.b.c"), ["a.b.c"], 1.5]
)
def test_verify_non_token_types(token: object) -> None:
    assert raised(same(lambda impl: impl.Verifier(S1).verify(token, now=NOW))) is TypeError


# --------------------------------------------------------------------------------------------
# §4 Verification: crafted tokens (valid MAC, hand-made header and payload)
# --------------------------------------------------------------------------------------------


@budget(400)
@given(
    payload=crafted_claims(),
    config=verifier_cases,
    now=crafted_nows,
    ascii_only=st.booleans(),
)
def test_crafted_claims_parity(
    payload: dict[str, object], config: VerifierCase, now: float, ascii_only: bool
) -> None:
    token = craft(HEADER, dumps(payload, ascii_only=ascii_only), S1)
    same(lambda impl: verify_view(config.build(impl), token, now))


@budget(300)
@given(
    header=crafted_headers(),
    key=st.sampled_from([S1, S2, S3, WRONG]),
    ring=st.sampled_from(
        [{"k1": S1, "k2": S2, None: S3}, {"k1": S1, "k2": S2}, S3, {None: S1}, {"k3": S2}]
    ),
)
def test_crafted_headers_parity(header: dict[str, object], key: bytes | str, ring: object) -> None:
    token = craft(dumps(header), dumps(claims()), key)
    same(lambda impl: verify_view(impl.Verifier(ring), token, NOW))


@budget(400)
@given(
    data=st.data(),
    target=st.sampled_from(["payload", "header", "both"]),
    max_depth=st.sampled_from([8, 8, 2, 3]),
    audience=st.sampled_from(["sock8", None]),
)
def test_raw_json_parity(
    data: st.DataObject, target: str, max_depth: int, audience: str | None
) -> None:
    payload_base = dumps(claims())
    header = HEADER
    payload = payload_base
    if target in ("header", "both"):
        header = data.draw(raw_json(HEADER), label="header")
    if target in ("payload", "both"):
        payload = data.draw(raw_json(payload_base), label="payload")
    token = craft(header, payload, S1)
    same(
        lambda impl: verify_view(
            impl.Verifier(S1, max_depth=max_depth, audience=audience), token, NOW
        )
    )


@budget(300)
@given(
    text=short_decimals(),
    claim=st.sampled_from(["exp", "iat", "nbf"]),
    nudge=st.sampled_from([0, 1, -1, 2, -2]),
    leeway=st.sampled_from([0, 0.1, 1.5]),
)
@example(text="1700000000.5", claim="exp", nudge=0, leeway=0)
def test_decimal_times_parity(text: str, claim: str, nudge: int, leeway: float) -> None:
    """Decimal times parse to the nearest double and compare at and around the boundary."""
    token, now = time_token(text, claim, nudge, leeway)
    same(lambda impl: verify_view(impl.Verifier(S1, leeway=leeway), token, now))


# --------------------------------------------------------------------------------------------
# §4 Verification: multi-key verifiers
# --------------------------------------------------------------------------------------------


@budget(200)
@given(
    signer_kid=st.sampled_from([None, "k1", "k2", "k3"]),
    signer_secret=st.sampled_from([S1, S2, S3, WRONG]),
    ring=st.sampled_from(
        [
            {"k1": S1, "k2": S2, None: S3},
            {"k1": S1, "k2": S2},
            {None: S3},
            {"k2": S2, "k1": S1, None: S3},
        ]
    ),
    channels=st.lists(valid_wire_ids(), max_size=3),
)
def test_multi_key_parity(
    signer_kid: str | None,
    signer_secret: bytes | str,
    ring: dict[str | None, bytes | str],
    channels: list[str],
) -> None:
    def sign(impl: ModuleType) -> object:
        return impl.Signer(signer_secret, kid=signer_kid).sign("u", channels, now=NOW, jti="j")

    token = returned(same(sign))
    assert isinstance(token, str)
    result = same(lambda impl: verify_view(impl.Verifier(ring), token, NOW))
    assert (result[0] == "returned") == (ring.get(signer_kid) == signer_secret)


# --------------------------------------------------------------------------------------------
# §4 Verification: explicit nasty tokens
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "token", "options", "now"), NASTY_TOKENS, ids=[case[0] for case in NASTY_TOKENS]
)
def test_nasty_tokens(
    name: str, token: str | bytes, options: dict[str, object], now: float
) -> None:
    options = dict(options)
    ring = options.pop("ring", S1)
    result = same(lambda impl: verify_view(impl.Verifier(ring, **options), token, now))
    expected = NASTY_TOKEN_OUTCOMES[name]
    if expected is None:
        returned(result)
    else:
        assert raised(result) is expected
