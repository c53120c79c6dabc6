"""Undoing the logging set-up of a script's `main` (`python -m sock8.demo` configures logging as
a script does), so that the tests after it do not inherit it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    """On exit: the `sock8.client` logger's level as it was, and no root handler added since."""
    client_logger = logging.getLogger("sock8.client")
    level, handlers = client_logger.level, list(logging.root.handlers)
    try:
        yield
    finally:
        client_logger.setLevel(level)
        for handler in logging.root.handlers[:]:
            if handler not in handlers:
                logging.root.removeHandler(handler)
