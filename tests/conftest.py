"""Shared fixtures: the test vectors in tests/vectors/, read by cargo test too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

VECTORS = Path(__file__).parent / "vectors"

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("thorough", deadline=None, max_examples=5000)
settings.load_profile("ci")


def load_vectors(name: str) -> Any:
    """A JSON vector file from tests/vectors/."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture
def secret() -> str:
    """A valid 32+ byte secret."""
    return "test-secret-0123456789abcdef-0123456789"
