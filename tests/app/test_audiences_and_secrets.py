"""Security review of the Python surface: audiences that cannot overlap, and secrets
and tokens that do not linger on Python objects.

- A client audience ending with `:publish` is refused wherever one is configured (`Sock8`,
  `Gateway`, `HttpPublisher`): with it, client tokens would be publish tokens.
- No attribute of `Sock8`, `KeyRing` or `HttpPublisher` (one level into Python containers) holds
  the secret or a token, and no `repr` shows one: the secret lives in the core (`Keys`).
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest
import sock8
from sock8 import ConfigError, HttpPublisher, KeyRing, Sock8
from sock8._core import Keys
from sock8.gateway import Gateway
from sock8.http_publisher import check_client_audience, publish_audience

from tests.support.http_recorder import recorder
from tests.support.secret import SECRET

OTHER = "surface-other-secret-0123456789abcdef-01"
NOW = 1_800_000_000

# Audiences


PUBLISH_LIKE = ["sock8:publish", "app:publish", ":publish", "a:b:publish"]
FINE = ["sock8", None, "publish", "app:publisher", "publish:app", "app:Publish", "app-publish"]


@pytest.mark.parametrize("audience", PUBLISH_LIKE)
def test_a_publish_audience_is_no_client_audience(audience: str) -> None:
    with pytest.raises(ConfigError, match="publish"):
        check_client_audience(audience)
    with pytest.raises(ConfigError, match="publish"):
        Sock8(SECRET, audience=audience)
    with pytest.raises(ConfigError, match="publish"):
        HttpPublisher("ws://127.0.0.1:1/connect", SECRET, audience=audience)
    with pytest.raises(ConfigError, match="publish"):
        Gateway(secret=SECRET, audience=audience)
    with pytest.raises(ConfigError, match="publish"):
        Gateway(secret=KeyRing({"k": SECRET}), audience=audience)


@pytest.mark.parametrize("audience", FINE)
def test_other_audiences_are_fine(audience: str | None) -> None:
    assert check_client_audience(audience) == audience
    s8 = Sock8(SECRET, audience=audience)
    gateway = Gateway(secret=SECRET, audience=audience)
    HttpPublisher("ws://127.0.0.1:1/connect", SECRET, audience=audience)
    # The two audiences never meet: a client token never passes the publish check.
    token = s8.issue_token("u1", ["a.b"], now=NOW).token
    assert gateway.verifier.verify(token, now=NOW).identity == "u1"
    with pytest.raises(sock8.InvalidClaims):
        gateway.publish_verifier.verify(token, now=NOW)
    assert gateway.publish_verifier.audience == publish_audience(audience)


def test_the_overlap_that_was_possible() -> None:
    """With `sock8:publish` as client audience, the app's client tokens carried exactly the
    audience its gateway's POST /publish checks: any client could publish anywhere."""
    victim = "sock8:publish"
    assert publish_audience("sock8") == victim
    with pytest.raises(ConfigError, match="could publish to any channel"):
        Sock8(SECRET, audience=victim)


# Secrets and tokens


def reachable(obj: object) -> Iterator[tuple[str, object]]:
    """`(name, value)` for every attribute in `vars(obj)` and the `__slots__` of its classes,
    and one level into the Python containers among them."""
    attributes: dict[str, object] = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if hasattr(obj, name):
                attributes[name] = getattr(obj, name)
    for name, value in attributes.items():
        yield name, value
        items: list[object] = []
        if isinstance(value, dict):
            items = [*value.keys(), *value.values()]
        elif isinstance(value, list | tuple | set | frozenset):
            items = list(value)
        for index, item in enumerate(items):
            yield f"{name}[{index}]", item


def assert_holds_none_of(obj: object, *needles: str) -> None:
    """No attribute of `obj` is or contains any needle (as str or as UTF-8 bytes), and neither
    the `repr` of `obj` nor the `repr` of any attribute shows one."""
    texts = [("repr", repr(obj))]
    for name, value in reachable(obj):
        if isinstance(value, bytes):
            texts.append((name, value.decode("utf-8", "replace")))
        elif isinstance(value, str):
            texts.append((name, value))
        texts.append((f"repr({name})", repr(value)))
    for needle in needles:
        for where, text in texts:
            assert needle not in text, f"{type(obj).__name__}.{where} holds a secret or token"


@pytest.mark.parametrize("secret", [SECRET, SECRET.encode()])
@pytest.mark.parametrize("kid", [None, "2026-11"])
def test_sock8_keeps_no_secret(secret: str | bytes, kid: str | None) -> None:
    s8 = Sock8(secret, kid=kid, gateway_url="ws://127.0.0.1:1/connect")
    assert_holds_none_of(s8, SECRET)
    assert isinstance(s8.publisher, HttpPublisher)
    assert_holds_none_of(s8.publisher, SECRET)
    # It still verifies what it signs, without a Python-held secret.
    issued = s8.issue_token("u1", ["a.b"], now=NOW)
    assert s8.verifier().verify(issued.token, now=NOW).identity == "u1"
    publish = sock8.Signer(secret, kid=kid, audience="sock8:publish").sign("p", (), now=NOW)
    assert s8.publish_verifier().verify(publish, now=NOW).identity == "p"


def test_issued_tokens_stay_out_of_reprs() -> None:
    s8 = Sock8(SECRET)
    issued = s8.issue_token("u1", ["a.b"], now=NOW)
    assert issued.token not in repr(issued)
    assert "u1" in repr(issued)
    assert issued.as_json()["token"] == issued.token  # the client still gets it
    assert_holds_none_of(s8, issued.token)


def test_a_key_ring_keeps_no_secret() -> None:
    ring = KeyRing({"old": SECRET}).add("new", OTHER.encode()).switch_to("new")
    for current in (ring, ring.retire("old"), KeyRing({None: SECRET})):
        assert_holds_none_of(current, SECRET, OTHER)
    # What it makes still works.
    token = ring.signer().sign("u1", [], now=NOW)
    assert ring.verifier().verify(token, now=NOW).identity == "u1"
    # A ring can also be made from keys the core already holds.
    assert KeyRing(Keys({"new": OTHER}), current="new").kids == ("new",)
    assert KeyRing(MappingProxyType({"new": OTHER})).kids == ("new",)


def test_an_http_publisher_keeps_no_token() -> None:
    with recorder() as gateway:
        publisher = HttpPublisher(gateway.url("/connect"), SECRET)
        publisher.publish("a.b", "1")
        publisher.publish("a.b", "2")
        assert_holds_none_of(publisher, SECRET)
        tokens = [r.authorization.split()[-1] for r in gateway.requests if r.authorization]
        assert len(tokens) == 2
        assert_holds_none_of(publisher, *tokens)
        publisher.close()


def test_keys_hold_secrets_in_the_core_only() -> None:
    keys = Keys({"a": SECRET, None: OTHER.encode()})
    assert repr(keys) == "Keys(kids=('a', None))"
    assert (keys.kids, len(keys), "a" in keys, None in keys, "b" in keys, 1 in keys) == (
        ("a", None),
        2,
        True,
        True,
        False,
        False,
    )
    assert not hasattr(keys, "__dict__")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(keys, protocol)
    assert copy.copy(keys) is keys
    assert copy.deepcopy(keys) is keys
    # A ring or an app that holds them cannot be pickled into plain data either.
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(KeyRing({"a": SECRET}))
    with pytest.raises(TypeError):
        pickle.dumps(Sock8(SECRET))
    ring = KeyRing({"a": SECRET})
    assert copy.deepcopy(ring).signer().sign("u", [], now=NOW).count(".") == 2


def test_keys_make_signers_and_verifiers() -> None:
    keys = Keys({"a": SECRET})
    signer = keys.signer("a", audience="app", issuer="me", ttl=60)
    assert (signer.kid, signer.audience, signer.issuer, signer.ttl) == ("a", "app", "me", 60)
    token = signer.sign("u1", ["a.b"], now=NOW)
    assert keys.verifier(audience="app", issuer="me").verify(token, now=NOW).channels == ("a.b",)
    # The same token as a Signer made from the secret signs: same key, same header.
    plain = sock8.Signer(SECRET, kid="a", audience="app", issuer="me", ttl=60)
    assert plain.sign("u1", ["a.b"], now=NOW, jti="j") == signer.sign(
        "u1", ["a.b"], now=NOW, jti="j"
    )
    more = keys.add("b", OTHER)
    assert more.kids == ("a", "b")
    assert keys.kids == ("a",)  # immutable
    assert more.without("a").kids == ("b",)
    with pytest.raises(ConfigError, match="no key named"):
        keys.signer("b")
    with pytest.raises(ConfigError, match="no unnamed key"):
        keys.signer(None)
    with pytest.raises(ConfigError):
        keys.add("a", OTHER)  # already there
    with pytest.raises(ConfigError):
        keys.without("a")  # the last key
    with pytest.raises(ConfigError):
        keys.add("c", "too short")


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        ({}, ConfigError),
        ({"": SECRET}, ConfigError),
        ({"a": "short"}, ConfigError),
        (SECRET, TypeError),
        (SECRET.encode(), TypeError),
        ([("a", SECRET)], TypeError),
        ({1: SECRET}, TypeError),
        ({"a": 12345}, TypeError),
    ],
)
def test_bad_keys(keys: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Keys(keys)
