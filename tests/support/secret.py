"""The secrets the tests sign with: any valid secret does, so every area shares these two."""

from __future__ import annotations

SECRET = "test-secret-0123456789abcdef-0123456789"
"""A valid secret (32+ bytes)."""

OTHER_SECRET = "another-secret-0123456789abcdef-0123456789"
"""Another valid secret, for tokens that must not verify under `SECRET`."""
