"""What the benchmarks compare: sock8 and its peers, each behind the same two small calls.

Every implementation gets a `sign(claims) -> token` and a `verify_allows(token, channel) -> bool`
that checks what sock8 checks on the hot path: the HS256 signature, `exp`, `aud`, and that the
channel is one of the token's `channels` (looked up in a `frozenset`, as a gateway would).
sock8 itself is timed through its public API directly (`signer.sign`, `verifier.verify(t).allows`),
without these wrappers.

Peers that may be missing load lazily and say why they are missing instead of failing:

- PyJWT, joserfc, orjson: ordinary packages (the `test` and `bench` dependency groups).
- jwt (GehirnInc) shares the import name `jwt` with PyJWT, and pyjwt-rs builds from source
  where no wheel fits; `make bench` installs both with `pip install --target` into
  `<venv>/peers/<name>`, and they load from there, `jwt` (GehirnInc) in isolation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import sock8

SECRET = "bench-secret-0123456789abcdef-0123456789"
AUDIENCE = "sock8"
IDENTITY = "user-42"
TEMPLATE = "chat.{roomId}.messages"
TTL = 3600

#: Where `make bench` installs the peers that need their own directory.
PEERS_DIR = Path(sys.prefix) / "peers"

Claims = dict[str, Any]
Sign = Callable[[Claims], str]
VerifyAllows = Callable[[str, str], bool]


def channel_ids(n: int) -> list[str]:
    """`n` distinct wire ids, sorted as a token carries them (`chat.r00042##roomId.messages`)."""
    return sorted(f"chat.r{i:05d}##roomId.messages" for i in range(n))


def probe(channels: list[str]) -> str:
    """The channel a benchmark asks about: a granted one from the middle of the list."""
    return channels[len(channels) // 2]


def claims_for(channels: list[str], now: int | None = None) -> Claims:
    """The claims sock8 would sign, as a dict for libraries that encode dicts."""
    iat = int(time.time()) if now is None else now
    return {
        "sub": IDENTITY,
        "aud": AUDIENCE,
        "iat": iat,
        "exp": iat + TTL,
        "jti": "b3BhcXVlLXRva2VuLWlk",
        "channels": channels,
    }


def signer() -> sock8.Signer:
    return sock8.Signer(SECRET, audience=AUDIENCE, ttl=TTL)


def verifier() -> sock8.Verifier:
    return sock8.Verifier(SECRET, audience=AUDIENCE)


def token_for(channels: list[str]) -> str:
    """A sock8 token for `channels`, valid for an hour from the system clock."""
    return signer().sign(IDENTITY, channels)


@dataclass(frozen=True)
class Peer:
    """One implementation to compare with, or why it cannot be."""

    name: str
    label: str
    version: str = ""
    sign: Sign | None = None
    verify_allows: VerifyAllows | None = None
    missing: str | None = None


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _dist_version(name: str, path: Path | None = None) -> str:
    from importlib import metadata

    try:
        if path is None:
            return metadata.version(name)
        for dist in metadata.distributions(path=[str(path)]):
            if dist.metadata["Name"].lower() == name.lower():
                return str(dist.version)
    except metadata.PackageNotFoundError:
        pass
    return "?"


def _failure_note(name: str) -> str | None:
    """The reason `make bench` recorded when it could not install peer `name`."""
    note = PEERS_DIR / f"{name}.failed"
    if note.is_file():
        lines = [line for line in note.read_text(errors="replace").splitlines() if line.strip()]
        return lines[0] if lines else "install failed"
    return None


def _import_isolated(name: str, path: Path) -> ModuleType:
    """Imports package `name` from `path` only, then restores `sys.modules` and `sys.path`, so
    that a same-named package (PyJWT's `jwt`) stays what `import name` gives everyone else."""
    saved = {k: v for k, v in sys.modules.items() if k == name or k.startswith(name + ".")}
    for key in saved:
        del sys.modules[key]
    sys.path.insert(0, str(path))
    try:
        module = importlib.import_module(name)
        if not str(getattr(module, "__file__", "")).startswith(str(path)):
            raise ImportError(f"{name} did not load from {path}")
        return module
    finally:
        sys.path.remove(str(path))
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        sys.modules.update(saved)


def _pyjwt() -> Peer:
    label = "PyJWT"
    try:
        jwt = importlib.import_module("jwt")
    except ImportError as e:
        return Peer("pyjwt", label, missing=f"not installed ({e})")
    if not hasattr(jwt, "PyJWT"):
        return Peer(
            "pyjwt", label, missing="`import jwt` is not PyJWT (GehirnInc's jwt installed over it?)"
        )
    encode, decode = jwt.encode, jwt.decode
    algorithms = ["HS256"]

    def sign(claims: Claims) -> str:
        return str(encode(claims, SECRET, algorithm="HS256"))

    def verify_allows(token: str, channel: str) -> bool:
        claims = decode(token, SECRET, algorithms=algorithms, audience=AUDIENCE)
        return channel in frozenset(claims["channels"])

    return Peer("pyjwt", label, _dist_version("PyJWT"), sign, verify_allows)


def _pyjwt_rs() -> Peer:
    label = "pyjwt-rs"
    path = PEERS_DIR / "pyjwt-rs"
    if not path.is_dir():
        why = _failure_note("pyjwt-rs") or f"not installed (`make bench` builds it into {path})"
        return Peer("pyjwt-rs", label, missing=why)
    if str(path) not in sys.path:
        sys.path.append(str(path))
    try:
        jwt_rs = importlib.import_module("jwt_rs")
    except ImportError as e:
        return Peer("pyjwt-rs", label, missing=_failure_note("pyjwt-rs") or f"import failed: {e}")
    encode, decode = jwt_rs.encode, jwt_rs.decode
    algorithms = ["HS256"]

    def sign(claims: Claims) -> str:
        return str(encode(claims, SECRET, algorithm="HS256"))

    def verify_allows(token: str, channel: str) -> bool:
        claims = decode(token, SECRET, algorithms=algorithms, audience=AUDIENCE)
        return channel in frozenset(claims["channels"])

    return Peer("pyjwt-rs", label, _dist_version("pyjwt-rs", path), sign, verify_allows)


def _joserfc() -> Peer:
    label = "joserfc"
    try:
        jwt = importlib.import_module("joserfc.jwt")
        jwk = importlib.import_module("joserfc.jwk")
    except ImportError as e:
        return Peer("joserfc", label, missing=f"not installed ({e})")
    key = jwk.OctKey.import_key(SECRET)
    header = {"alg": "HS256"}
    algorithms = ["HS256"]
    registry = jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUDIENCE})
    encode, decode, validate = jwt.encode, jwt.decode, registry.validate

    def sign(claims: Claims) -> str:
        return str(encode(header, claims, key, algorithms=algorithms))

    def verify_allows(token: str, channel: str) -> bool:
        claims = decode(token, key, algorithms=algorithms).claims
        validate(claims)  # exp (when present), aud
        return channel in frozenset(claims["channels"])

    return Peer("joserfc", label, _dist_version("joserfc"), sign, verify_allows)


def _gehirn() -> Peer:
    label = "jwt (GehirnInc)"
    path = PEERS_DIR / "gehirn"
    if not path.is_dir():
        why = _failure_note("gehirn") or f"not installed (`make bench` installs it into {path})"
        return Peer("gehirn", label, missing=why)
    try:
        jwt = _import_isolated("jwt", path)
    except ImportError as e:
        return Peer("gehirn", label, missing=f"import failed: {e}")
    key = jwt.jwk_from_dict({"kty": "oct", "k": _b64url(SECRET.encode()).decode()})
    instance = jwt.JWT()
    encode, decode = instance.encode, instance.decode
    algorithms = {"HS256"}

    def sign(claims: Claims) -> str:
        return str(encode(claims, key, alg="HS256"))

    def verify_allows(token: str, channel: str) -> bool:
        claims = decode(token, key, algorithms=algorithms)  # signature, exp, nbf
        aud = claims["aud"]  # it does not look at aud
        if aud != AUDIENCE and not (isinstance(aud, list) and AUDIENCE in aud):
            raise ValueError("aud")
        return channel in frozenset(claims["channels"])

    return Peer("gehirn", label, _dist_version("jwt", path), sign, verify_allows)


def _stdlib() -> Peer:
    """The best hand-written Python: `hmac` with the key pads computed once, `binascii`, orjson."""
    label = "stdlib Python"
    try:
        orjson = importlib.import_module("orjson")
    except ImportError as e:
        return Peer("stdlib", label, missing=f"orjson not installed ({e})")
    dumps, loads = orjson.dumps, orjson.loads
    keyed = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    compare = hmac.compare_digest
    header_segment = _b64url(dumps({"alg": "HS256", "typ": "JWT"}))
    header_prefix = header_segment + b"."
    to_std = bytes.maketrans(b"-_", b"+/")
    a2b, b2a = binascii.a2b_base64, base64.urlsafe_b64encode
    clock = time.time

    def b64decode(segment: bytes) -> bytes:
        return a2b(segment.translate(to_std) + b"=" * (-len(segment) % 4))

    def sign(claims: Claims) -> str:
        signing_input = header_prefix + b2a(dumps(claims)).rstrip(b"=")
        mac = keyed.copy()
        mac.update(signing_input)
        return (signing_input + b"." + b2a(mac.digest()).rstrip(b"=")).decode()

    def verify_allows(token: str, channel: str) -> bool:
        raw = token.encode()
        signing_input, _, signature = raw.rpartition(b".")
        header, _, payload = signing_input.partition(b".")
        if header != header_segment:  # the one header it issues; anything else: decode, check
            fields = loads(b64decode(header))
            if fields.get("alg") != "HS256" or "crit" in fields or "kid" in fields:
                raise ValueError("header")
        mac = keyed.copy()
        mac.update(signing_input)
        if not compare(mac.digest(), b64decode(signature)):
            raise ValueError("signature")
        claims = loads(b64decode(payload))
        if claims["exp"] <= clock():
            raise ValueError("expired")
        aud = claims["aud"]
        if aud != AUDIENCE and not (isinstance(aud, list) and AUDIENCE in aud):
            raise ValueError("aud")
        return channel in frozenset(claims["channels"])

    return Peer("stdlib", label, f"orjson {_dist_version('orjson')}", sign, verify_allows)


PEER_LOADERS: dict[str, Callable[[], Peer]] = {
    "pyjwt": _pyjwt,
    "pyjwt-rs": _pyjwt_rs,
    "joserfc": _joserfc,
    "gehirn": _gehirn,
    "stdlib": _stdlib,
}


@cache
def peer(name: str) -> Peer:
    """The peer called `name` (a key of `PEER_LOADERS`), loaded once."""
    return PEER_LOADERS[name]()


def reference() -> ModuleType | None:
    """The pure-Python reference of docs/spec.md (tests/core/reference.py), if present."""
    path = Path(__file__).resolve().parent.parent / "tests" / "core" / "reference.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_sock8_reference", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look modules up by name
    spec.loader.exec_module(module)
    return module
