"""The browser client shipped with the package: `sock8.js` and its types, `sock8.d.ts`.

The gateway serves both (`GET /sock8.js`, `GET /sock8.d.ts`); `python -m sock8 js DIR` copies
them for bundlers. Read through `importlib.resources`, so that they are found in a wheel, a zip
or a source checkout alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["NAMES", "Asset", "asset", "copy_to"]

_CONTENT_TYPES = {
    "sock8.js": "text/javascript; charset=utf-8",
    "sock8.d.ts": "application/typescript; charset=utf-8",
}
NAMES: tuple[str, ...] = tuple(_CONTENT_TYPES)
"""The files of the browser client."""


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the browser client.

    Attributes:
        name: its file name.
        body: its bytes.
        content_type: its `Content-Type`.
        etag: a strong `ETag` (quoted) derived from `body`.
    """

    name: str
    body: bytes
    content_type: str
    etag: str


@cache
def asset(name: str) -> Asset:
    """The file `name` (one of `NAMES`), read once.

    Raises:
        KeyError: `name` is not a file of the browser client.
    """
    content_type = _CONTENT_TYPES[name]
    body = resources.files(__name__).joinpath(name).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(name, body, content_type, f'"{digest}"')


def copy_to(directory: str | Path) -> list[Path]:
    """Write every file of the browser client into `directory` (created if missing); return
    the paths written. Existing files of the same names are replaced."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in NAMES:
        path = target / name
        path.write_bytes(asset(name).body)
        written.append(path)
    return written
