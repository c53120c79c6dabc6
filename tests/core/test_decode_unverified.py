"""`decode_unverified` and `UnverifiedToken` (rust/src/core/decode.rs, rust/src/py/decode.rs):
a token read by the verifier's rules, with nothing verified."""

from __future__ import annotations

import json

import pytest
from sock8 import MalformedToken, Signer, Verifier
from sock8._core import MAX_TOKEN_BYTES, UnverifiedToken, decode_unverified

from tests.support.jws import b64, signed
from tests.support.secret import SECRET

NOW = 1_700_000_000


def token(header: str, payload: str, signature: str = "A" * 43) -> str:
    return f"{b64(header.encode())}.{b64(payload.encode())}.{signature}"


def test_a_signed_token_decodes_to_its_header_and_claims() -> None:
    signed = Signer(SECRET, kid="k1").sign("u", ["b", "a"], now=NOW, jti="j")
    decoded = decode_unverified(signed)
    assert isinstance(decoded, UnverifiedToken)
    assert decoded.header == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    assert decoded.claims == {
        "sub": "u",
        "aud": "sock8",
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": "j",
        "channels": ["a", "b"],
    }
    assert list(decoded.claims or {}) == ["sub", "aud", "iat", "exp", "jti", "channels"]
    assert decoded.signature_bytes == 32
    assert (decoded.header_error, decoded.claims_error, decoded.signature_error) == (None,) * 3
    assert decode_unverified(signed.encode()).claims == decoded.claims


def test_json_values_keep_their_python_types() -> None:
    payload = '{"i":-5,"x":1.5,"e":1e3,"big":123456789012345678901,"n":null,"t":true,"o":{"a":[1]}}'
    claims = decode_unverified(token("{}", payload)).claims
    assert claims == {
        "i": -5,
        "x": 1.5,
        "e": 1000.0,
        "big": 1.2345678901234568e20,
        "n": None,
        "t": True,
        "o": {"a": [1]},
    }
    assert claims is not None
    assert [type(claims[k]) for k in ("i", "x", "e", "big", "t")] == [
        int,
        float,
        float,
        float,
        bool,
    ]


def test_each_dict_is_a_new_copy() -> None:
    decoded = decode_unverified(token('{"alg":"HS256"}', '{"sub":"u"}'))
    header = decoded.header
    assert header is not None
    header["alg"] = "none"
    assert decoded.header == {"alg": "HS256"}


def test_a_part_that_fails_leaves_the_others() -> None:
    decoded = decode_unverified(f"%%.{b64(b'{}')}.!!")
    assert decoded.header is None
    assert isinstance(decoded.header_error, MalformedToken)
    assert str(decoded.header_error) == "malformed token: header is not canonical base64url"
    assert decoded.claims == {}
    assert decoded.signature_bytes is None
    assert isinstance(decoded.signature_error, MalformedToken)

    decoded = decode_unverified(token('{"alg":"none","a":1,"a":2}', '{"sub":"u"}'))
    assert decoded.header is None
    assert "header: duplicate member name" in str(decoded.header_error)
    assert decoded.claims == {"sub": "u"}


def test_errors_match_the_verifier_on_the_same_parts() -> None:
    verifier = Verifier(SECRET)
    nested = '{"a":' + "[" * 8 + "]" * 8 + "}"
    for payload in [nested, '{"a":1} x', "[]", '{"a":NaN}']:
        # A header that passes steps 4-9 is needed for the verifier to reach the payload.
        head = Signer(SECRET).sign("u", [], now=NOW).split(".")[0]
        forged = signed(f"{head}.{b64(payload.encode())}", SECRET)
        with pytest.raises(MalformedToken) as refused:
            verifier.verify(forged, now=NOW)
        assert str(decode_unverified(forged).claims_error) == str(refused.value)


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "a.b", "a.b.c.d", "a" * (MAX_TOKEN_BYTES + 1), "\ud800.a.b"],
)
def test_whole_token_refusals_raise_as_the_verifier_does(bad: str) -> None:
    with pytest.raises(MalformedToken) as decoded:
        decode_unverified(bad)
    with pytest.raises(MalformedToken) as verified:
        Verifier(SECRET).verify(bad, now=NOW)
    assert str(decoded.value) == str(verified.value)


def test_oversized_bytes_name_their_length() -> None:
    with pytest.raises(MalformedToken, match=f"over the {MAX_TOKEN_BYTES}-byte limit"):
        decode_unverified(b"a" * (MAX_TOKEN_BYTES + 1))


def test_a_large_token_decodes() -> None:
    channels = [f"room.r{i}##id" for i in range(5000)]
    signed = Signer(SECRET).sign("u", channels, now=NOW)
    assert len(signed) > 16 * 1024  # decoded without the GIL
    claims = decode_unverified(signed).claims
    assert claims is not None
    assert sorted(claims["channels"]) == sorted(channels)


def test_wrong_types_are_type_errors() -> None:
    for value in [None, 1, ["a.b.c"], bytearray(b"a.b.c")]:
        with pytest.raises(TypeError, match="token must be str or bytes"):
            decode_unverified(value)  # type: ignore[arg-type]


def test_the_repr_shows_no_claim() -> None:
    decoded = decode_unverified(token('{"kid":"secret-kid"}', '{"sub":"private-user"}'))
    shown = repr(decoded)
    assert shown == "UnverifiedToken(header=decoded, claims=decoded, signature_bytes=32)"
    assert json.dumps(decoded.claims) == '{"sub": "private-user"}'
