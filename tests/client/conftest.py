"""Shared fixtures of the client tests. `test_client.py`'s `world` (an app and its gateway on
loopback) is its own; the loopback server is tests/support/live_server.py."""
