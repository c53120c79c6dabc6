"""Shared fixtures of the package tests (what a user gets: the wheel, the README's code, the
demo). They need none beyond tests/support/repo.py's paths to the README."""
