"""HS256 signing and verification (rust/src/core/sign.rs, verify.rs, claims.rs, json.rs, b64.rs)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
import sock8
from sock8 import (
    BadSignature,
    ChannelError,
    ConfigError,
    InvalidClaims,
    MalformedToken,
    Signer,
    TokenError,
    TokenExpired,
    Verifier,
)

from tests.support.repo import load_vectors

VECTORS = load_vectors("tokens.json")
NOW = 1_700_000_000
ROOM = "chat.r%201##roomId.messages"


def verifier_for(case: dict[str, Any]) -> Verifier:
    options = case.get("verifier", {})
    if "secrets_b64" in case:
        raw = case["secrets_b64"]
        return Verifier(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), **options)
    return Verifier(case.get("secrets") or VECTORS["secret"], **options)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_token_vectors(case: dict[str, Any]) -> None:
    verifier = verifier_for(case)
    if case["expect"] == "ok":
        grants = verifier.verify(case["token"], now=case["now"])
        assert grants.identity == "u1"
    else:
        with pytest.raises(getattr(sock8, case["expect"])) as caught:
            verifier.verify(case["token"], now=case["now"])
        assert type(caught.value).__name__ == case["expect"]
        # bytes and str tokens take the same path
        with pytest.raises(getattr(sock8, case["expect"])):
            verifier.verify(case["token"].encode("utf-8", "surrogatepass"), now=case["now"])


def decode_segment(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, payload, _ = token.split(".")
    return decode_segment(head), decode_segment(payload)


def test_signed_layout_is_fixed(secret: str) -> None:
    token = Signer(secret, issuer="https://app").sign(
        "u1", [ROOM, "admin.logs", ROOM], now=NOW + 0.9, jti="j1"
    )
    header, claims = segments(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert list(claims) == ["sub", "aud", "iss", "iat", "exp", "jti", "channels"]
    assert claims == {
        "sub": "u1",
        "aud": "sock8",
        "iss": "https://app",
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": "j1",
        "channels": ["admin.logs", ROOM],
    }


def test_kid_goes_into_the_header(secret: str) -> None:
    header, _ = segments(Signer(secret, kid="2026-11").sign("u", [], now=NOW))
    assert header == {"alg": "HS256", "kid": "2026-11", "typ": "JWT"}


def test_jti_is_random_by_default(secret: str) -> None:
    signer = Signer(secret)
    jtis = {segments(signer.sign("u", [], now=NOW))[1]["jti"] for _ in range(50)}
    assert len(jtis) == 50
    assert all(len(j) == 22 for j in jtis)


def test_pyjwt_decodes_what_we_sign(secret: str) -> None:
    token = Signer(secret, ttl=60).sign("ü 1", [ROOM], now=NOW, jti="x")
    claims = jwt.decode(
        token, secret, algorithms=["HS256"], audience="sock8", options={"verify_exp": False}
    )
    assert claims == {
        "sub": "ü 1",
        "aud": "sock8",
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "x",
        "channels": [ROOM],
    }


def test_we_verify_what_pyjwt_signs(secret: str) -> None:
    token = jwt.encode(
        {"sub": "u2", "channels": [ROOM], "iat": NOW, "exp": NOW + 60, "aud": "sock8"},
        secret,
        algorithm="HS256",
        headers={"kid": "k"},
    )
    grants = Verifier({"k": secret}).verify(token, now=NOW + 1)
    assert grants.identity == "u2"
    assert grants.channels == (ROOM,)
    assert grants.jti is None


def test_grants_report_floor_of_times(secret: str) -> None:
    token = jwt.encode(
        {"sub": "u", "channels": [], "iat": NOW + 0.7, "exp": NOW + 99.9, "aud": "sock8"},
        secret,
        algorithm="HS256",
    )
    grants = Verifier(secret).verify(token, now=NOW + 1)
    assert (grants.issued_at, grants.expires_at) == (NOW, NOW + 99)


def test_expiry_honours_leeway(secret: str) -> None:
    token = Signer(secret, ttl=10).sign("u", [], now=NOW)
    assert Verifier(secret).verify(token, now=NOW + 9.99).identity == "u"
    with pytest.raises(TokenExpired):
        Verifier(secret).verify(token, now=NOW + 10)
    assert Verifier(secret, leeway=5).verify(token, now=NOW + 14.9).identity == "u"


def test_any_tampered_character_is_refused(secret: str) -> None:
    token = Signer(secret).sign("u1", [ROOM], now=NOW)
    verifier = Verifier(secret)
    for i in range(len(token)):
        if token[i] == ".":
            continue
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        with pytest.raises(TokenError):
            verifier.verify(flipped, now=NOW)


def test_audience_separates_client_and_publish_tokens(secret: str) -> None:
    publish_token = Signer(secret, audience="sock8:publish").sign("app", [], now=NOW)
    with pytest.raises(InvalidClaims):
        Verifier(secret).verify(publish_token, now=NOW)
    grants = Verifier(secret, audience="sock8:publish").verify(publish_token, now=NOW)
    assert grants.identity == "app"


def test_sign_refuses_bad_input(secret: str) -> None:
    signer = Signer(secret)
    with pytest.raises(InvalidClaims):
        signer.sign("", [], now=NOW)
    with pytest.raises(InvalidClaims):
        signer.sign("\ud800", [], now=NOW)
    with pytest.raises(ChannelError):
        signer.sign("u", ["chat.*"], now=NOW)
    with pytest.raises(ChannelError):
        signer.sign("u", ["a.\ud800"], now=NOW)
    with pytest.raises(TypeError):
        signer.sign("u", "admin.logs", now=NOW)
    with pytest.raises(TypeError):
        signer.sign("u", [b"admin.logs"], now=NOW)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        signer.sign(1, [], now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidClaims):
        signer.sign("u", [f"r.{i}##id" for i in range(10_001)], now=NOW)
    with pytest.raises(InvalidClaims):
        signer.sign("u", [], now=NOW, jti="")
    with pytest.raises(ConfigError):
        signer.sign("u", [], now=NOW, ttl=0)
    with pytest.raises(ValueError, match="now"):
        signer.sign("u", [], now=-1)
    with pytest.raises(ValueError, match="now"):
        signer.sign("u", [], now=float("nan"))
    with pytest.raises(ValueError, match="9999"):
        signer.sign("u", [], now=253402300799)


def test_sign_takes_any_iterable(secret: str) -> None:
    token = Signer(secret).sign("u", (c for c in ["b", "a"]), now=NOW)
    assert Verifier(secret).verify(token, now=NOW).channels == ("a", "b")


def test_verify_type_errors_are_type_errors(secret: str) -> None:
    verifier = Verifier(secret)
    for bad in (None, 1, ["x"], bytearray(b"x.y.z")):
        with pytest.raises(TypeError):
            verifier.verify(bad, now=NOW)  # type: ignore[arg-type]


def test_str_with_lone_surrogate_is_malformed(secret: str) -> None:
    with pytest.raises(MalformedToken):
        Verifier(secret).verify("a.b.\ud800", now=NOW)


def test_bad_signature_never_echoes_the_expected_mac(secret: str) -> None:
    token = Signer(secret).sign("u", [], now=NOW)
    forged = token[: token.rindex(".") + 1] + "A" * 43
    with pytest.raises(BadSignature) as caught:
        Verifier(secret).verify(forged, now=NOW)
    assert token.rsplit(".", 1)[1] not in str(caught.value)
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"leeway": -1},
        {"leeway": 86401},
        {"leeway": float("nan")},
        {"max_token_bytes": 0},
        {"max_token_bytes": 524289},
        {"max_depth": 1},
        {"max_depth": 9},
        {"max_channels": 10_001},
        {"max_channels": -1},
        {"audience": ""},
        {"issuer": ""},
    ],
)
def test_verifier_configuration_is_checked(secret: str, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Verifier(secret, **options)


@pytest.mark.parametrize("ttl", [0, -1, 31_536_001, 10**30])
def test_signer_ttl_is_checked(secret: str, ttl: int) -> None:
    with pytest.raises(ConfigError):
        Signer(secret, ttl=ttl)


def test_exception_tree() -> None:
    for name in (
        "MalformedToken",
        "BadSignature",
        "TokenExpired",
        "TokenNotYetValid",
        "InvalidClaims",
        "UnknownKey",
    ):
        cls = getattr(sock8, name)
        assert issubclass(cls, sock8.TokenError)
        assert issubclass(cls, ValueError)
    assert issubclass(sock8.TokenError, sock8.Sock8Error)
    for cls in (sock8.ChannelError, sock8.ConfigError, sock8.PublishError):
        assert issubclass(cls, sock8.Sock8Error)


def test_properties_and_reprs(secret: str) -> None:
    signer = Signer(secret, kid="k", issuer="i", ttl=5)
    assert (signer.kid, signer.audience, signer.issuer, signer.ttl) == ("k", "sock8", "i", 5)
    assert "secret" not in repr(signer)
    assert secret not in repr(signer)
    verifier = Verifier({"k": secret}, audience=None, leeway=2.5)
    assert (verifier.audience, verifier.issuer, verifier.leeway, verifier.kids) == (
        None,
        None,
        2.5,
        ("k",),
    )
    assert repr(verifier) == "Verifier(kids=('k',), audience=None, issuer=None, leeway=2.5)"
    assert repr(signer) == "Signer(kid='k', audience='sock8', issuer='i', ttl=5)"
