"""Key rotation with `sock8.KeyRing` (python/sock8/keys.py over rust/src/core/keys.rs).

The promise: rotating keys in three steps (add the new key to verifiers, switch signing, retire
the old key) never invalidates a live token before the old key is retired, and retiring it after
the longest token lifetime invalidates none at all. Time is passed with `now=`.
"""

from __future__ import annotations

import base64
import json

import pytest
from sock8 import (
    BadSignature,
    ConfigError,
    KeyRing,
    Signer,
    TokenExpired,
    UnknownKey,
    Verifier,
)

OLD_KID, NEW_KID = "2026-10", "2026-11"
OLD = "old-rotation-secret-0123456789abcdef-0123456789"
NEW = "new-rotation-secret-0123456789abcdef-0123456789"
NOW = 1_700_000_000
TTL = 600
LEEWAY = 30
ROOM = "chat.r1##roomId"


def kid_of(token: str) -> str | None:
    """The `kid` header of a token, if any."""
    head = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    kid: str | None = header.get("kid")
    return kid


def identity(verifier: Verifier, token: str, now: float) -> str:
    """The identity a verifier reads from a token at `now`."""
    return verifier.verify(token, now=now).identity


def old_ring() -> KeyRing:
    """Before rotation: one named key."""
    return KeyRing({OLD_KID: OLD})


def test_step_0_one_named_key() -> None:
    ring = old_ring()
    assert (ring.current, ring.kids, len(ring)) == (OLD_KID, (OLD_KID,), 1)
    token = ring.signer(ttl=TTL).sign("u", [ROOM], now=NOW)
    assert kid_of(token) == OLD_KID
    assert identity(ring.verifier(), token, NOW) == "u"


def test_step_1_add_the_new_key_for_verification_only() -> None:
    before = old_ring()
    ring = before.add(NEW_KID, NEW)
    assert ring.kids == (OLD_KID, NEW_KID)
    # Signing is unchanged by step 1.
    assert ring.current == OLD_KID
    old_token = ring.signer(ttl=TTL).sign("u", [ROOM], now=NOW)
    assert kid_of(old_token) == OLD_KID
    # Verifiers now accept both keys, so signers may switch once step 1 is everywhere.
    new_token = Signer(NEW, kid=NEW_KID, ttl=TTL).sign("v", [ROOM], now=NOW)
    verifier = ring.verifier()
    assert identity(verifier, old_token, NOW) == "u"
    assert identity(verifier, new_token, NOW) == "v"
    # A verifier still on the old ring refuses new-key tokens: why step 1 must be deployed
    # everywhere before step 2.
    with pytest.raises(UnknownKey):
        before.verifier().verify(new_token, now=NOW)
    # Rings are immutable.
    assert before.kids == (OLD_KID,)


def test_step_2_switch_signing_keeps_live_tokens_valid() -> None:
    ring = old_ring().add(NEW_KID, NEW)
    issued_before_switch = ring.signer(ttl=TTL).sign("u", [ROOM], now=NOW)
    switched = ring.switch_to(NEW_KID)
    assert (switched.current, switched.kids) == (NEW_KID, (OLD_KID, NEW_KID))
    issued_after_switch = switched.signer(ttl=TTL).sign("v", [ROOM], now=NOW + 1)
    assert kid_of(issued_after_switch) == NEW_KID
    # The new token is MACed with the new key only.
    with pytest.raises(UnknownKey):
        Verifier({OLD_KID: OLD}).verify(issued_after_switch, now=NOW + 1)
    assert identity(Verifier({NEW_KID: NEW}), issued_after_switch, NOW + 1) == "v"
    # The token issued before the switch stays valid for its whole lifetime...
    verifier = switched.verifier(leeway=LEEWAY)
    for now in (NOW + 1, NOW + TTL - 1, NOW + TTL + LEEWAY - 1):
        assert identity(verifier, issued_before_switch, now) == "u"
    # ...and then expires like any other token: by time, never by the rotation.
    with pytest.raises(TokenExpired):
        verifier.verify(issued_before_switch, now=NOW + TTL + LEEWAY)


def test_step_3_retire_the_old_key() -> None:
    switched = old_ring().add(NEW_KID, NEW).switch_to(NEW_KID)
    old_token = old_ring().signer(ttl=TTL).sign("u", [ROOM], now=NOW)
    new_token = switched.signer(ttl=TTL).sign("v", [ROOM], now=NOW)
    retired = switched.retire(OLD_KID)
    assert (retired.current, retired.kids) == (NEW_KID, (NEW_KID,))
    assert OLD_KID not in retired
    assert identity(retired.verifier(), new_token, NOW) == "v"
    # An old-key token is refused by key, even while its exp is still ahead.
    with pytest.raises(UnknownKey):
        retired.verifier().verify(old_token, now=NOW)


def test_retiring_after_the_longest_lifetime_invalidates_no_live_token() -> None:
    ring = old_ring().add(NEW_KID, NEW)
    switch_at = NOW + 100
    # The last token the old key signs is signed at the moment of the switch.
    last_old = ring.signer(ttl=TTL).sign("u", [ROOM], now=switch_at)
    switched = ring.switch_to(NEW_KID)
    retire_at = switch_at + TTL + LEEWAY
    # At the retirement time the two-key verifier already refuses the token, as expired, so
    # removing the key changes no outcome.
    with pytest.raises(TokenExpired):
        switched.verifier(leeway=LEEWAY).verify(last_old, now=retire_at)
    with pytest.raises(UnknownKey):
        switched.retire(OLD_KID).verifier(leeway=LEEWAY).verify(last_old, now=retire_at)
    # One second earlier the token was live, and it still verified.
    assert identity(switched.verifier(leeway=LEEWAY), last_old, retire_at - 1) == "u"


def test_whole_rotation_timeline() -> None:
    """Tokens issued at every stage, checked at every later stage: a token is refused only when
    it has expired or its key has been retired, never for any other reason."""
    stages: list[tuple[str, KeyRing]] = []
    ring = old_ring()
    stages.append(("start", ring))
    ring = ring.add(NEW_KID, NEW)
    stages.append(("added", ring))
    ring = ring.switch_to(NEW_KID)
    stages.append(("switched", ring))
    ring = ring.retire(OLD_KID)
    stages.append(("retired", ring))
    issued = [
        (stage, ring.current, ring.signer(ttl=TTL).sign(stage, [ROOM], now=NOW))
        for stage, ring in stages
    ]
    for _, verifying_ring in stages:
        verifier = verifying_ring.verifier()
        for stage, signing_kid, token in issued:
            if signing_kid in verifying_ring:
                assert identity(verifier, token, NOW + TTL - 1) == stage
                with pytest.raises(TokenExpired):
                    verifier.verify(token, now=NOW + TTL)
            else:
                with pytest.raises(UnknownKey):
                    verifier.verify(token, now=NOW)


def test_migrating_from_one_unnamed_secret() -> None:
    plain = KeyRing({None: OLD})
    assert plain.current is None
    legacy = plain.signer().sign("u", [], now=NOW)
    assert kid_of(legacy) is None
    ring = plain.add(NEW_KID, NEW).switch_to(NEW_KID)
    assert identity(ring.verifier(), legacy, NOW) == "u"
    named = ring.signer().sign("v", [], now=NOW)
    assert kid_of(named) == NEW_KID
    assert identity(ring.verifier(), named, NOW) == "v"
    with pytest.raises(UnknownKey):
        ring.retire(None).verifier().verify(legacy, now=NOW)


def test_kid_is_a_lookup_never_a_choice_of_key() -> None:
    ring = old_ring().add(NEW_KID, NEW)
    # A token that names the new key but is MACed with the old one: no fallback to another key.
    forged = Signer(OLD, kid=NEW_KID).sign("attacker", [ROOM], now=NOW)
    with pytest.raises(BadSignature):
        ring.verifier().verify(forged, now=NOW)
    # A name the ring does not have selects nothing.
    stray = Signer(OLD, kid="2026-09").sign("attacker", [ROOM], now=NOW)
    with pytest.raises(UnknownKey):
        ring.verifier().verify(stray, now=NOW)


def test_options_reach_the_rust_objects() -> None:
    ring = old_ring()
    signer = ring.signer(audience="sock8:publish", issuer="app", ttl=60)
    assert (signer.kid, signer.audience, signer.issuer, signer.ttl) == (
        OLD_KID,
        "sock8:publish",
        "app",
        60,
    )
    verifier = ring.verifier(audience=None, leeway=5)
    assert (verifier.kids, verifier.audience, verifier.leeway) == ((OLD_KID,), None, 5)
    with pytest.raises(TypeError):
        ring.signer(kid="other")  # the ring decides the kid


@pytest.mark.parametrize(
    ("keys", "current"),
    [
        ({}, None),
        ({OLD_KID: OLD}, NEW_KID),
        ({OLD_KID: OLD}, None),
        ({OLD_KID: "short"}, OLD_KID),
        ({OLD_KID: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS"}, OLD_KID),
        ({"": OLD}, ""),
        ({"k" * 257: OLD}, "k" * 257),
    ],
)
def test_bad_rings_are_config_errors(keys: dict[str | None, str], current: str | None) -> None:
    with pytest.raises(ConfigError):
        KeyRing(keys, current=current)


def test_a_ring_of_several_keys_names_its_current_key() -> None:
    with pytest.raises(ConfigError, match="current"):
        KeyRing({OLD_KID: OLD, NEW_KID: NEW})
    with pytest.raises(ConfigError):
        KeyRing({})


def test_rotation_steps_refuse_mistakes() -> None:
    ring = old_ring().add(NEW_KID, NEW)
    with pytest.raises(ConfigError, match="already"):
        ring.add(NEW_KID, NEW)
    with pytest.raises(ConfigError, match="add it first"):
        ring.switch_to("2027-01")
    with pytest.raises(ConfigError, match="switch_to"):
        ring.retire(OLD_KID)  # still the signing key
    with pytest.raises(ConfigError):
        ring.retire("2027-01")
    with pytest.raises(ConfigError):
        ring.add("2027-01", "too short")


def test_type_errors_are_type_errors() -> None:
    with pytest.raises(TypeError):
        KeyRing(OLD)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        KeyRing({1: OLD}, current=1)  # type: ignore[dict-item, arg-type]
    with pytest.raises(TypeError):
        KeyRing({OLD_KID: 12345})  # type: ignore[dict-item]


def test_repr_never_shows_secrets() -> None:
    ring = old_ring().add(NEW_KID, NEW.encode())
    text = repr(ring)
    assert text == f"KeyRing(kids=({OLD_KID!r}, {NEW_KID!r}), current={OLD_KID!r})"
    assert OLD not in text
    assert NEW not in text
