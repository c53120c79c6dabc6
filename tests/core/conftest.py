"""Shared fixtures of the core tests (the Rust core through `sock8`)."""

from __future__ import annotations

import pytest

from tests.support.secret import SECRET


@pytest.fixture
def secret() -> str:
    """A valid 32+ byte secret."""
    return SECRET
