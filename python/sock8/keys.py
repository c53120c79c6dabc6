"""`KeyRing`: named HMAC secrets for key rotation, over the Rust `Keys`, `Signer`, `Verifier`.

The ring holds no rules of its own about secrets or names: the Rust core checks both when the
ring is built (docs/spec.md §2), so a ring that builds gives signers and verifiers that build.
Nor does it hold the secrets: they are handed to the core once (`sock8._core.Keys`), so no
attribute, `repr` or pickle of a ring shows one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

from sock8._core import Keys, Signer, Verifier
from sock8.errors import ConfigError

__all__ = ["KeyRing"]


class _Only(enum.Enum):
    """Marker for "the ring's only key" as the default `current`."""

    ONLY = enum.auto()


_ONLY: Final = _Only.ONLY


class KeyRing:
    """Named HMAC secrets: verifiers accept every one, signers sign with the current one.

    `KeyRing({"2026-10": old, "2026-11": new}, current="2026-11")`. Each name is written into the
    tokens' `kid` header and is only ever looked up among these keys. The name `None` is the
    unnamed key, for tokens without `kid`: that is how a deployment that started with one plain
    secret moves to named keys. `current` may be left out when the ring has one key.

    Rotation is three steps, each deployed to every app server and gateway before the next:

    1. `ring.add("2026-11", new)`: verifiers accept the new key; signers still use the old one.
    2. `ring.switch_to("2026-11")`: signers use the new key; tokens signed with the old one
       keep verifying until they expire.
    3. `ring.retire("2026-10")`, once the longest token lifetime (`ttl` plus the verifiers'
       `leeway`) has passed since step 2: no live token depends on the old key any more.

    A ring is immutable: each step returns a new ring. `keys` may also be a `sock8._core.Keys`.

    Raises:
        ConfigError: `current` is not in the ring (or left out of a ring of several keys), or a
            secret or name is refused by the core (too short, key material, empty name).
        TypeError: a name that is neither `str` nor `None`, a secret that is neither `str` nor
            `bytes`.
    """

    __slots__ = ("_current", "_keys")

    def __init__(
        self,
        keys: Mapping[str | None, str | bytes] | Keys,
        *,
        current: str | _Only | None = _ONLY,
    ) -> None:
        if isinstance(keys, Mapping):
            # Secrets and names are checked by the core, once, here, and stay in the core.
            keys = Keys(keys)
        elif not isinstance(keys, Keys):
            kind = type(keys).__name__
            raise TypeError(f"keys must be a mapping of names to secrets, not {kind}")
        self._keys: Keys = keys
        if isinstance(current, _Only):
            if len(keys) != 1:
                raise ConfigError(
                    f"a ring of {len(keys)} keys needs current= to name the signing key"
                )
            current = keys.kids[0]
        if current not in keys:
            raise ConfigError(f"current key {current!r} is not in the ring {self.kids!r}")
        self._current: str | None = current

    @property
    def current(self) -> str | None:
        """The name of the key signers use (`None`: the unnamed key, no `kid` header)."""
        return self._current

    @property
    def kids(self) -> tuple[str | None, ...]:
        """The key names, in the order given."""
        return self._keys.kids

    def signer(self, **options: Any) -> Signer:
        """A `Signer` for the current key, its name as `kid`; `options` go to `Signer`
        (`audience`, `issuer`, `ttl`)."""
        return self._keys.signer(self._current, **options)

    def verifier(self, **options: Any) -> Verifier:
        """A `Verifier` that accepts every key of the ring, selected by `kid`; `options` go to
        `Verifier` (`audience`, `issuer`, `leeway`, limits)."""
        return self._keys.verifier(**options)

    def add(self, kid: str | None, secret: str | bytes) -> KeyRing:
        """Rotation step 1: the same ring with a new key, not yet used for signing."""
        if kid in self._keys:
            raise ConfigError(f"key {kid!r} is already in the ring; retire it before reusing it")
        return KeyRing(self._keys.add(kid, secret), current=self._current)

    def switch_to(self, kid: str | None) -> KeyRing:
        """Rotation step 2: the same keys, signing with `kid`."""
        if kid not in self._keys:
            raise ConfigError(f"key {kid!r} is not in the ring {self.kids!r}; add it first")
        return KeyRing(self._keys, current=kid)

    def retire(self, kid: str | None) -> KeyRing:
        """Rotation step 3: the ring without `kid`, which must not be the current key."""
        if kid not in self._keys:
            raise ConfigError(f"key {kid!r} is not in the ring {self.kids!r}")
        if kid == self._current:
            raise ConfigError(f"key {kid!r} signs new tokens; switch_to another key first")
        return KeyRing(self._keys.without(kid), current=self._current)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        # Names only: a ring's repr ends up in logs, its secrets must not.
        return f"KeyRing(kids={self.kids!r}, current={self._current!r})"
