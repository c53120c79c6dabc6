"""Framework adapters: `with_sock8(s8, authorize=...)` for each supported framework.

Each module imports only its own framework, installed by the matching extra::

    sock8.integrations.starlette  ->  pip install 'sock8[starlette]'   (a Starlette app)
    sock8.integrations.fastapi    ->  pip install 'sock8[fastapi]'     (an APIRouter)
    sock8.integrations.flask      ->  pip install 'sock8[flask]'       (a Blueprint)
    sock8.integrations.django     ->  pip install 'sock8[django]'      (URL patterns)
    sock8.integrations.aiohttp    ->  pip install 'sock8[aiohttp]'     (a sub-application)

Importing this package imports no framework.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["requires"]


@contextmanager
def requires(extra: str, *packages: str) -> Iterator[None]:
    """Turn a missing framework into a one-line "install sock8[extra]" `ImportError`.

    Only the absence of `packages` (default: the extra's own name) is translated; a broken
    install of the framework raises its own error.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in (packages or (extra,)):
            raise
        raise ImportError(
            f"sock8.integrations.{extra} needs {missing}: pip install 'sock8[{extra}]'"
        ) from None
