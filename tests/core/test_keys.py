"""Keys and key rings (rust/src/core/keys.rs): secret checks and selection by kid."""

from __future__ import annotations

import pytest
from sock8 import BadSignature, ConfigError, Signer, UnknownKey, Verifier

NOW = 1_700_000_000
OLD = "old-secret-0123456789abcdef-0123456789"
NEW = "new-secret-0123456789abcdef-0123456789"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "x" * 31,
        b"x" * 31,
        "é" * 15,  # 30 bytes of UTF-8
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1L\n",
        "\n  -----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEez",
        '{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg","alg":"HS256"}',
        ' {"kty": "RSA", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbW", "e": "AQAB"} ',
        "\ud800" * 40,
    ],
)
def test_weak_or_asymmetric_secrets_are_refused(bad: str | bytes) -> None:
    with pytest.raises(ConfigError):
        Signer(bad)
    with pytest.raises(ConfigError):
        Verifier(bad)
    with pytest.raises(ConfigError):
        Verifier({"k": bad})


def test_str_secret_means_its_utf8_bytes() -> None:
    text = "é" * 16  # 32 bytes
    token = Signer(text).sign("u", [], now=NOW)
    assert Verifier(text.encode()).verify(token, now=NOW).identity == "u"


def test_secret_must_be_str_or_bytes() -> None:
    with pytest.raises(TypeError):
        Signer(12345678901234567890123456789012345)  # type: ignore[arg-type]


def test_kid_selects_only_among_configured_keys() -> None:
    both = Verifier({"old": OLD, "new": NEW})
    old_token = Signer(OLD, kid="old").sign("u", [], now=NOW)
    new_token = Signer(NEW, kid="new").sign("u", [], now=NOW)
    assert both.verify(old_token, now=NOW).identity == "u"
    assert both.verify(new_token, now=NOW).identity == "u"
    # A token signed by one key but naming the other never falls back.
    with pytest.raises(BadSignature):
        both.verify(Signer(OLD, kid="new").sign("u", [], now=NOW), now=NOW)
    with pytest.raises(UnknownKey):
        both.verify(Signer(OLD).sign("u", [], now=NOW), now=NOW)
    with pytest.raises(UnknownKey):
        Verifier(OLD).verify(old_token, now=NOW)


def test_unnamed_key_sits_beside_named_ones() -> None:
    ring = Verifier({None: OLD, "new": NEW})
    assert ring.kids == (None, "new")
    assert ring.verify(Signer(OLD).sign("u", [], now=NOW), now=NOW).identity == "u"
    assert ring.verify(Signer(NEW, kid="new").sign("u", [], now=NOW), now=NOW).identity == "u"


@pytest.mark.parametrize("ring", [{}, {"": OLD}, {"k" * 257: OLD}])
def test_bad_rings_are_refused(ring: dict[str | None, str]) -> None:
    with pytest.raises(ConfigError):
        Verifier(ring)


def test_bad_signer_kid_is_refused() -> None:
    with pytest.raises(ConfigError):
        Signer(OLD, kid="")
