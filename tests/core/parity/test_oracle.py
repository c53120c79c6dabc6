"""The oracle itself (tests/core/reference.py): its constants are the core's, and it agrees with
outside references (RFC 7515 A.1, PyJWT)."""

from __future__ import annotations

import pytest
import sock8
from sock8 import errors

from tests.core import reference as ref
from tests.core.parity.cases import RFC7515_A1, RFC7515_A1_KEY
from tests.core.parity.crafting import NOW, S1, claims


def test_constants() -> None:
    core = sock8._core
    assert (
        core.MAX_WIRE_ID_BYTES,
        core.MAX_SEGMENTS,
        core.MAX_TOKEN_BYTES,
        core.MAX_JSON_DEPTH,
        core.MAX_CHANNELS,
        core.MIN_SECRET_BYTES,
        core.MAX_PAYLOAD_DEPTH,
    ) == (
        ref.MAX_WIRE_ID_BYTES,
        ref.MAX_SEGMENTS,
        ref.MAX_TOKEN_BYTES,
        ref.MAX_JSON_DEPTH,
        ref.MAX_CHANNELS,
        ref.MIN_SECRET_BYTES,
        ref.MAX_PAYLOAD_DEPTH,
    )


def test_reference_checks_rfc7515_a1() -> None:
    """RFC 7515 A.1's MAC verifies (the claims then fail); another key's does not."""
    with pytest.raises(errors.InvalidClaims):
        ref.Verifier(RFC7515_A1_KEY, audience=None).verify(RFC7515_A1, now=0)
    with pytest.raises(errors.BadSignature):
        ref.Verifier(S1, audience=None).verify(RFC7515_A1, now=0)


def test_reference_interoperates_with_pyjwt() -> None:
    jwt = pytest.importorskip("jwt")
    token = ref.Signer(S1, issuer="me").sign("u1", ["b.c", "a"], now=NOW, jti="j")
    decoded = jwt.decode(
        token, S1, algorithms=["HS256"], audience="sock8", issuer="me", leeway=10**10
    )
    assert decoded == {
        "sub": "u1",
        "aud": "sock8",
        "iss": "me",
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": "j",
        "channels": ["a", "b.c"],
    }
    theirs = jwt.encode(claims(nbf=NOW - 5), S1, algorithm="HS256")
    grants = ref.Verifier(S1).verify(theirs, now=NOW)
    assert grants.channels == ("admin.logs", "chat.r%201##roomId.messages")
