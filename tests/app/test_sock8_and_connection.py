"""`Sock8` configuration and token issuance (app.py), and `Connection` (connection.py)."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
import sock8
from sock8 import ChannelError, ChannelTree, ConfigError, Connection, Sock8

from tests.support.secret import SECRET

NOW = 1_700_000_000.75


@pytest.fixture
def channels() -> ChannelTree:
    return Sock8(secret=SECRET).channels(
        {"notification.{userId}": None, "chat.{roomId}.messages": None, "admin.logs": None}
    )


# Sock8: everything is checked at construction


def test_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    token = Sock8().issue_token("u1", ["admin.logs"]).token
    assert sock8.Verifier(SECRET).verify(token).identity == "u1"


def test_an_explicit_secret_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCK8_SECRET", "short")
    Sock8(secret=SECRET)


def test_a_missing_secret_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCK8_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"no secret: pass Sock8\(secret=\.\.\.\) or set SOCK8"):
        Sock8()


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "too-short",
        b"\x00" * 31,
        "-----BEGIN PUBLIC KEY-----" + "A" * 40,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbcdefghijklmnop",
        '{"kty": "oct", "k": "0123456789abcdef0123456789abcdef"}',
    ],
)
def test_weak_secrets_are_config_errors_at_construction(
    monkeypatch: pytest.MonkeyPatch, secret: str | bytes
) -> None:
    with pytest.raises(ConfigError):
        Sock8(secret=secret)
    monkeypatch.setenv("SOCK8_SECRET", secret if isinstance(secret, str) else "short")
    with pytest.raises(ConfigError):
        Sock8()


@pytest.mark.parametrize("ttl", [0, -1, 31_536_001])
def test_bad_token_ttls_are_config_errors(ttl: int) -> None:
    with pytest.raises(ConfigError, match="ttl"):
        Sock8(secret=SECRET, token_ttl=ttl)


@pytest.mark.parametrize(
    "url", ["http://gateway/connect", "gateway:8787", "", "ws://", "wss:///connect", "ws://[::1"]
)
def test_bad_gateway_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="gateway_url"):
        Sock8(secret=SECRET, gateway_url=url)


def test_a_publisher_must_implement_the_protocol() -> None:
    with pytest.raises(TypeError, match=r"sock8\.Publisher"):
        Sock8(secret=SECRET, publisher=object())  # type: ignore[arg-type]


def test_the_default_publisher_posts_to_the_gateway() -> None:
    s8 = Sock8(secret=SECRET, gateway_url="wss://rt.example/connect")
    assert isinstance(s8.publisher, sock8.HttpPublisher)
    assert isinstance(s8.publisher, sock8.Publisher)
    assert s8.publisher.publish_url == "https://rt.example/publish"


def test_repr_never_shows_the_secret() -> None:
    s8 = Sock8(secret=SECRET, gateway_url="wss://rt.example/connect", token_ttl=60)
    assert repr(s8) == "Sock8(gateway_url='wss://rt.example/connect', token_ttl=60)"
    assert SECRET not in repr(s8)


# Token issuance


def test_issue_token_signs_exactly_the_channels_sorted_and_deduplicated() -> None:
    s8 = Sock8(secret=SECRET, gateway_url="wss://rt.example/connect", token_ttl=120)
    issued = s8.issue_token("u1", ["b.c", "admin.logs", "b.c"], now=NOW)
    assert issued.channels == ("admin.logs", "b.c")
    assert issued.expires_at == 1_700_000_000 + 120
    assert issued.as_json() == {
        "token": issued.token,
        "endpoint": "wss://rt.example/connect",
        "identity": "u1",
        "channels": ["admin.logs", "b.c"],
        "expiresAt": 1_700_000_120,
    }
    grants = s8.verifier().verify(issued.token, now=NOW + 119)
    assert (grants.identity, grants.channels) == ("u1", ("admin.logs", "b.c"))
    assert grants.expires_at == issued.expires_at
    with pytest.raises(sock8.TokenExpired):
        s8.verifier().verify(issued.token, now=NOW + 120)
    with pytest.raises(sock8.TokenExpired):
        s8.verifier(leeway=0).verify(issued.token, now=NOW + 1000)
    assert s8.verifier(leeway=1000).verify(issued.token, now=NOW + 1000).identity == "u1"


def test_issued_tokens_verify_with_pyjwt() -> None:
    s8 = Sock8(secret=SECRET, issuer="my-app")
    issued = s8.issue_token("u1", ["admin.logs"])
    claims = jwt.decode(
        issued.token, SECRET, algorithms=["HS256"], audience="sock8", issuer="my-app"
    )
    assert claims["sub"] == "u1"
    assert claims["channels"] == ["admin.logs"]
    assert claims["exp"] == issued.expires_at


def test_named_keys_for_rotation() -> None:
    s8 = Sock8(secret=SECRET, kid="2025-01")
    token = s8.issue_token("u1", ["admin.logs"]).token
    assert jwt.get_unverified_header(token)["kid"] == "2025-01"
    assert s8.verifier().verify(token).identity == "u1"
    with pytest.raises(sock8.UnknownKey):
        sock8.Verifier(SECRET).verify(token)


def test_issue_token_refuses_bad_channels_and_identities() -> None:
    s8 = Sock8(secret=SECRET)
    with pytest.raises(ChannelError):
        s8.issue_token("u1", ["not a wire id"])
    with pytest.raises(TypeError, match="not one str"):
        s8.issue_token("u1", "admin.logs")
    with pytest.raises(sock8.InvalidClaims):
        s8.issue_token("", ["admin.logs"])


def test_a_verifier_of_another_app_refuses_the_token() -> None:
    token = Sock8(secret=SECRET).issue_token("u1", ["a"]).token
    with pytest.raises(sock8.BadSignature):
        Sock8(secret=SECRET + "-other").verifier().verify(token)


# Connection


def test_connection_keeps_the_framework_request() -> None:
    request = object()
    assert Connection(request).request is request


def test_grant_accepts_refs_static_nodes_and_wire_ids(channels: ChannelTree) -> None:
    conn: Connection[None] = Connection(None)
    conn.grant(channels.notification.for_(userId="u1"))
    conn.grant(channels.admin.logs, "chat.r%201##roomId.messages")
    conn.grant(channels.chat.messages.for_(roomId="r 1"), channels.admin.logs.ref)
    assert conn.channels == (
        "admin.logs",
        "chat.r%201##roomId.messages",
        "notification.u1##userId",
    )
    assert conn.allows("admin.logs")
    assert not conn.allows("admin")


def test_grant_refuses_nodes_that_need_for(channels: ChannelTree) -> None:
    conn: Connection[None] = Connection(None)
    with pytest.raises(ChannelError, match=r"use for_\(userId=...\)"):
        conn.grant(channels.notification)
    with pytest.raises(ChannelError, match="not a static channel"):
        conn.grant(channels.chat)
    assert conn.channels == ()


@pytest.mark.parametrize(
    "wire_id",
    [
        "",
        "chat.r 1##roomId.messages",
        "chat.r%2e##roomId",  # lower-case hex
        "chat.a%41##roomId",  # a needless escape
        "a..b",
        "chat.{roomId}.messages",
        "a.b*",
        "x" * 513,
    ],
)
def test_grant_validates_wire_id_strings_with_the_core(wire_id: str) -> None:
    conn: Connection[None] = Connection(None)
    with pytest.raises(ChannelError, match="cannot grant"):
        conn.grant(wire_id)


@pytest.mark.parametrize(
    ("wire_id", "position", "segment"),
    [("a..b", 2, None), ("a.b*", 2, "b*"), ("chat.v##1x", 2, "1x"), ("x" * 513, None, None)],
)
def test_a_refused_grant_keeps_what_the_core_names(
    wire_id: str, position: int | None, segment: str | None
) -> None:
    conn: Connection[None] = Connection(None)
    with pytest.raises(ChannelError, match=r"^cannot grant ") as info:
        conn.grant(wire_id)
    assert (info.value.position, info.value.segment) == (position, segment)


@pytest.mark.parametrize("value", [None, 5, b"admin.logs", ["admin.logs"]])
def test_grant_refuses_other_types(value: Any) -> None:
    conn: Connection[None] = Connection(None)
    with pytest.raises(TypeError, match="grant\\(\\) takes channel refs"):
        conn.grant(value)


def test_a_failed_grant_grants_nothing(channels: ChannelTree) -> None:
    conn: Connection[None] = Connection(None)
    with pytest.raises(ChannelError):
        conn.grant(channels.admin.logs, channels.chat.messages)
    assert conn.channels == ()


def test_identity_defaults_to_a_random_id_fixed_per_connection() -> None:
    first: Connection[None] = Connection(None)
    second: Connection[None] = Connection(None)
    assert first.identity == first.identity
    assert uuid.UUID(first.identity) != uuid.UUID(second.identity)


def test_identify_as() -> None:
    conn: Connection[None] = Connection(None)
    conn.identify_as("u1")
    conn.identify_as("u2")
    assert conn.identity == "u2"
    with pytest.raises(ValueError, match="empty"):
        conn.identify_as("")
    with pytest.raises(TypeError, match="must be a str, not int"):
        conn.identify_as(5)  # type: ignore[arg-type]
    assert conn.identity == "u2"
