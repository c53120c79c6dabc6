"""`load_key_ring`: a `KeyRing` from a JSON file, for commands that verify with several keys.

The file names each key and says which one signs:

    {
      "current": "2026-11",
      "keys": [
        {"kid": "2026-10", "secret": "..."},
        {"kid": "2026-11", "secret": "..."}
      ]
    }

`kid` is the key's name (`null` for the unnamed key, which tokens without a `kid` select);
`secret` is the secret as text (its UTF-8 bytes are the key). `current` may be left out when the
file holds one key. Nothing else is allowed, so that a misspelt member is an error rather than a
key silently missing. Keep the file readable by the service's user only: it holds the secrets.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sock8.errors import ConfigError
from sock8.keys import KeyRing

__all__ = ["MAX_KEY_FILE_BYTES", "load_key_ring"]

MAX_KEY_FILE_BYTES = 1024 * 1024
"""Largest key-ring file read: far above any real ring, far below a mistake such as a log file."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"member {name!r} appears twice")
    return dict(pairs)


def _entries(document: object) -> tuple[dict[str | None, str], object]:
    """The (kid → secret) entries and the `current` member (`...` when absent)."""
    if not isinstance(document, dict):
        raise ConfigError('expected a JSON object {"current": ..., "keys": [...]}')
    unknown = sorted(set(document) - {"current", "keys"})
    if unknown:
        raise ConfigError(f"unknown member {unknown[0]!r} (expected current and keys)")
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ConfigError('"keys" must be a non-empty list of {"kid": ..., "secret": ...}')
    ring: dict[str | None, str] = {}
    for index, entry in enumerate(keys):
        where = f"keys[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"kid", "secret"}:
            raise ConfigError(f'{where} must be an object with exactly "kid" and "secret"')
        kid, secret = entry["kid"], entry["secret"]
        if kid is not None and not isinstance(kid, str):
            raise ConfigError(f"{where}.kid must be a string or null")
        if not isinstance(secret, str):
            # The value is not shown: it may be a secret in the wrong shape.
            raise ConfigError(f"{where}.secret must be a string")
        if kid in ring:
            raise ConfigError(f"{where}: key {kid!r} is already in the file")
        ring[kid] = secret
    return ring, document.get("current", ...)


def load_key_ring(path: str | os.PathLike[str]) -> KeyRing:
    """The `KeyRing` a key-ring file describes (format in the module docstring).

    Raises:
        ConfigError: the file cannot be read, is over `MAX_KEY_FILE_BYTES`, is not JSON of that
            shape, or a name or secret is refused by the core (too short, key material, empty
            name). Messages name the file and the entry, never a secret.
    """
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"key ring {os.fspath(path)!r}: {exc.strerror or exc}") from None
    try:
        if len(data) > MAX_KEY_FILE_BYTES:
            raise ConfigError(f"over {MAX_KEY_FILE_BYTES} bytes")
        try:
            document = json.loads(data, object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            # The position only: the message of a decode error may quote the text.
            where = ""
            if isinstance(exc, json.JSONDecodeError):
                where = f" at line {exc.lineno} column {exc.colno}"
            raise ConfigError(f"not UTF-8 JSON{where}") from None
        ring, current = _entries(document)
        if current is ...:
            return KeyRing(ring)
        if current is not None and not isinstance(current, str):
            raise ConfigError('"current" must be a key name or null')
        return KeyRing(ring, current=current)
    except ConfigError as exc:
        raise ConfigError(f"key ring {os.fspath(path)!r}: {exc}") from None
