"""Helpers that tests of several areas use; each area's own helpers live in its directory."""
