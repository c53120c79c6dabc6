"""`Sock8`: the app's handle on sock8 — secret, gateway address, publisher, channel trees."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sock8._core import DEFAULT_AUDIENCE, DEFAULT_TTL, Keys, Signer, Verifier
from sock8.errors import ConfigError
from sock8.http_publisher import HttpPublisher, check_client_audience, publish_audience
from sock8.publisher import Publisher
from sock8.revocation import Revocation, Revoker
from sock8.tree import ChannelTree, build_tree

__all__ = ["DEFAULT_GATEWAY_URL", "SECRET_ENV", "IssuedToken", "Sock8", "secret_or_environment"]

DEFAULT_GATEWAY_URL = "ws://127.0.0.1:8787/connect"
"""Where `sock8 gateway` listens by default."""

SECRET_ENV = "SOCK8_SECRET"
"""The environment variable that holds the secret when none is passed."""


def secret_or_environment(secret: str | bytes | None, how: str) -> str | bytes:
    """`secret`, or when it is `None` the value of `SOCK8_SECRET`.

    Raises:
        ConfigError: neither; the message says to pass it as `how` or to set the variable.
    """
    if secret is not None:
        return secret
    found = os.environ.get(SECRET_ENV)
    if found is None:
        raise ConfigError(f"no secret: pass {how} or set {SECRET_ENV}")
    return found


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed token and what it grants: the body of `POST {base}/authenticate`.

    Attributes:
        token: the JWS, for the client's first WebSocket frame. Left out of the `repr`: a
            bearer credential must not end up in logs.
        endpoint: the gateway's WebSocket URL.
        identity: the token's `sub`.
        channels: the granted wire ids, sorted.
        expires_at: the token's `exp`, epoch seconds.
    """

    token: str = field(repr=False)
    endpoint: str
    identity: str
    channels: tuple[str, ...]
    expires_at: int

    def as_json(self) -> dict[str, Any]:
        """The JSON body sent to the client (docs/protocol.md, "The app's auth routes")."""
        return {
            "token": self.token,
            "endpoint": self.endpoint,
            "identity": self.identity,
            "channels": list(self.channels),
            "expiresAt": self.expires_at,
        }


class Sock8:
    """The app's sock8 configuration: signs tokens, builds channel trees, publishes.

    Arguments:
        secret: the HS256 secret shared with the gateway (32+ bytes); defaults to the
            `SOCK8_SECRET` environment variable.
        gateway_url: the gateway's WebSocket URL (`ws://` or `wss://`), sent to clients.
        token_ttl: token lifetime in seconds.
        audience: the `aud` claim of client tokens; never one ending with `:publish`, which
            publish tokens use.
        issuer: the `iss` claim, if any.
        kid: the key name written into token headers, for key rotation.
        publisher: where `emit` sends messages. Defaults to an `HttpPublisher` that posts to
            the gateway at `gateway_url` (its `/publish`, authenticated by a publish token
            signed with `secret`). `sock8.gateway.create_app(s8)` replaces that default with
            its in-process broker, so that a gateway mounted in this process gets emits
            without HTTP. Pass a `MemoryBroker` to keep messages in this process.

    Raises:
        ConfigError: no secret, a weak secret, a bad TTL, audience, issuer or gateway URL. All
            are checked here, not at first use.

    The secret is handed to the Rust core (`sock8._core.Keys`) and not kept by this object: no
    attribute, `repr` or pickle of it shows the secret.
    """

    def __init__(
        self,
        secret: str | bytes | None = None,
        *,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        token_ttl: int = DEFAULT_TTL,
        audience: str | None = DEFAULT_AUDIENCE,
        issuer: str | None = None,
        kid: str | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        key = secret_or_environment(secret, "Sock8(secret=...)")
        check_client_audience(audience)
        # The Rust core owns every rule about secrets and TTLs, and holds the key: verifiers
        # are made from `_keys` later, so the secret itself need not stay in Python.
        self._keys = Keys({kid: key})
        self._signer = self._keys.signer(kid, audience=audience, issuer=issuer, ttl=token_ttl)
        self.gateway_url = _check_gateway_url(gateway_url)
        if publisher is not None and not isinstance(publisher, Publisher):
            raise TypeError(f"publisher must implement sock8.Publisher, not {publisher!r}")
        if publisher is None:
            publisher = HttpPublisher(
                self.gateway_url, key, audience=audience, issuer=issuer, kid=kid
            )
        self.publisher: Publisher = publisher
        """Where `emit` publishes. A gateway mounted in this process may replace it."""
        self.revoker: Revoker | None = publisher if isinstance(publisher, Revoker) else None
        """Where `revoke` goes: the publisher when it can carry revocations (the default
        `HttpPublisher` posts them to the gateway's `/revoke`); a gateway created with this
        `Sock8` in this process replaces the default by itself."""

    @property
    def signer(self) -> Signer:
        """The Rust signer of client tokens."""
        return self._signer

    @property
    def token_ttl(self) -> int:
        """Lifetime of client tokens, in seconds."""
        return self._signer.ttl

    def verifier(self, *, leeway: float = 0) -> Verifier:
        """A verifier that accepts exactly the tokens this app signs (what the gateway uses)."""
        return self._keys.verifier(
            audience=self._signer.audience, issuer=self._signer.issuer, leeway=leeway
        )

    def publish_verifier(self, *, leeway: float = 0) -> Verifier:
        """A verifier of this app's publish tokens (audience `<audience>:publish`): what the
        gateway's `POST /publish` uses."""
        return self._keys.verifier(
            audience=publish_audience(self._signer.audience),
            issuer=self._signer.issuer,
            leeway=leeway,
        )

    def channels(self, definitions: Mapping[str, object]) -> ChannelTree:
        """Build a channel tree bound to this app.

        `definitions` maps templates (`"chat.{roomId}.messages"`) to a schema, a
        `sock8.channel(...)`, a `(schema, config)` tuple, or another tree to mount under the key
        (its ids are prefixed with the key).

        Raises:
            ChannelError: any definition error, at definition time, naming the key.
        """
        return build_tree(self, definitions)

    def issue_token(
        self, identity: str, channels: Iterable[str], *, now: float | None = None
    ) -> IssuedToken:
        """Sign a client token granting exactly `channels` to `identity`.

        Arguments:
            now: epoch seconds; defaults to the system clock.

        Raises:
            ChannelError: a channel is not a wire id.
            InvalidClaims: an empty identity or too many channels.
            TypeError: `channels` is a single `str`.
        """
        if isinstance(channels, str):
            raise TypeError("channels must be an iterable of wire ids, not one str")
        granted = tuple(sorted(set(channels)))
        now = time.time() if now is None else now
        token = self._signer.sign(identity, granted, now=now)
        # The signer's iat is floor(now), and exp = iat + ttl.
        expires_at = math.floor(now) + self._signer.ttl
        return IssuedToken(token, self.gateway_url, identity, granted, expires_at)

    def revoke(
        self, *, identity: str | None = None, before: float | None = None, jti: str | None = None
    ) -> None:
        """Revoke on every gateway node: the tokens of `identity` issued before `before`
        (default: now, on the gateway's clock), or the one token `jti`. The matching live
        connections are closed at once with 4001 and error `revoked`, and those tokens are
        refused (connect, refresh, history) until they would have expired anyway; tokens
        issued later work. Returns once the gateway took it.

        Raises:
            ValueError: both or neither of `identity` and `jti`, or a bad value.
            TypeError: a value of the wrong type.
            ConfigError: `publisher` cannot carry revocations and no gateway took its place.
            PublishError: the gateway could not be reached or refused it.
        """
        revocation = Revocation(identity=identity, before=before, jti=jti)
        self._revoker().revoke(revocation)

    async def arevoke(
        self, *, identity: str | None = None, before: float | None = None, jti: str | None = None
    ) -> None:
        """The async twin of `revoke`; never blocks the event loop."""
        revocation = Revocation(identity=identity, before=before, jti=jti)
        await self._revoker().arevoke(revocation)

    def _revoker(self) -> Revoker:
        if self.revoker is None:
            raise ConfigError(
                f"{self.publisher!r} cannot carry revocations: create the gateway with this "
                "Sock8, or set s8.revoker (an HttpPublisher to the gateway)"
            )
        return self.revoker

    def __repr__(self) -> str:
        return f"Sock8(gateway_url={self.gateway_url!r}, token_ttl={self.token_ttl})"


def _check_gateway_url(url: str) -> str:
    if not isinstance(url, str):
        raise ConfigError(f"gateway_url must be a str, not {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"gateway_url {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"gateway_url must be a ws:// or wss:// URL, not {url!r}")
    return url
