"""Grant sets (rust/src/core/grants.rs): exact matching, order, laziness, types."""

from __future__ import annotations

import pytest
from sock8 import Grants, Signer, Verifier

NOW = 1_700_000_000


def grants_for(secret: str, channels: list[str]) -> Grants:
    token = Signer(secret).sign("u", channels, now=NOW)
    return Verifier(secret).verify(token, now=NOW)


@pytest.mark.parametrize("n", [0, 1, 8, 9, 100, 10_000])
def test_allows_exactly_the_granted_ids(secret: str, n: int) -> None:
    ids = [f"room.r{i}##roomId.messages" for i in range(n)]
    grants = grants_for(secret, ids)
    assert len(grants) == n
    assert all(grants.allows(i) for i in ids)
    assert not grants.allows("room.r-1##roomId.messages")
    assert not grants.allows("room.r1##roomId")
    assert not grants.allows("room.r1##roomId.messages ")
    assert not grants.allows("ROOM.r1##roomId.messages")
    assert not grants.allows("")


def test_channels_are_sorted_and_unique(secret: str) -> None:
    grants = grants_for(secret, ["b", "a", "b", "c.x##y"])
    assert grants.channels == ("a", "b", "c.x##y")
    assert list(grants) == ["a", "b", "c.x##y"]
    assert grants.channels is grants.channels  # built once, on first use


def test_contains_answers_like_allows_but_never_raises(secret: str) -> None:
    grants = grants_for(secret, ["admin.logs"])
    assert "admin.logs" in grants
    assert "admin" not in grants
    assert 1 not in grants
    assert None not in grants


@pytest.mark.parametrize("bad", [None, 1, b"admin.logs", ["admin.logs"]])
def test_allows_refuses_non_str(secret: str, bad: object) -> None:
    with pytest.raises(TypeError):
        grants_for(secret, ["admin.logs"]).allows(bad)  # type: ignore[arg-type]


def test_lone_surrogate_is_simply_not_granted(secret: str) -> None:
    assert grants_for(secret, ["admin.logs"]).allows("admin.logs\ud800") is False


def test_no_prefix_or_pattern_matching(secret: str) -> None:
    grants = grants_for(secret, ["chat.r1##roomId.messages"])
    for probe in ("chat", "chat.r1##roomId", "chat.*", "chat.r1##roomId.messages.x", "chat.>"):
        assert not grants.allows(probe)


def test_grants_cannot_be_built_or_changed_from_python(secret: str) -> None:
    grants = grants_for(secret, ["admin.logs"])
    with pytest.raises(TypeError):
        Grants()
    with pytest.raises(AttributeError):
        grants.identity = "root"  # type: ignore[misc]
    assert repr(grants) == f"Grants(identity='u', channels=1, expires_at={NOW + 3600})"
