"""redis-py clients with the settings sock8 relies on, whatever redis-py's defaults are.

redis-py 8.0 changed defaults under pub/sub users (a 5 s `socket_timeout` that timed idle
subscriptions out, RESP3 by default, ten retries of every command): every setting that matters
is given here explicitly. Commands fail fast (one retry, for a pooled connection that died with
a Redis restart), so that a publish while Redis is down is refused in about a connect timeout,
not queued. The pub/sub connection never times out a read, keeps TCP keepalive on, and does not
retry inside redis-py: the subscriber's own loop reconnects and resubscribes from its index.
"""

from __future__ import annotations

from typing import Any, Literal

import redis
import redis.asyncio
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

from sock8.errors import ConfigError

__all__ = ["Protocol", "async_client", "check_url", "pubsub_client", "sync_client"]

Protocol = Literal[2, 3]
"""The RESP version spoken; 2 works with every Redis and proxy, 3 needs Redis 6 or later."""

CONNECT_TIMEOUT = 2.0
"""Seconds to open a connection: past it, Redis counts as unreachable."""
COMMAND_TIMEOUT = 5.0
"""Seconds a command may take (not the pub/sub connection's reads)."""


def check_url(url: object) -> None:
    """Refuse what is not a Redis URL now, not at the first connection.

    Raises:
        ConfigError: not a `redis://`, `rediss://` or `unix://` URL; the message does not
            repeat the URL (it may hold a password).
    """
    if not isinstance(url, str) or not url:
        raise ConfigError(f"the Redis URL must be a non-empty str, not {type(url).__name__}")
    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ConfigError(f"not a Redis URL: {exc}") from None


def _command_options(protocol: Protocol) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": COMMAND_TIMEOUT,
        "socket_keepalive": True,
        "health_check_interval": 0,
    }


def sync_client(url: str, protocol: Protocol) -> redis.Redis:
    """A client for blocking calls (`publish`, `history` from sync code); thread-safe."""
    retry = Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), 1)
    return redis.Redis.from_url(url, retry=retry, **_command_options(protocol))


def async_client(url: str, protocol: Protocol) -> redis.asyncio.Redis:
    """A client for commands on the calling event loop."""
    from redis.asyncio.retry import Retry as AsyncRetry

    retry = AsyncRetry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), 1)
    return redis.asyncio.Redis.from_url(url, retry=retry, **_command_options(protocol))


def pubsub_client(url: str, protocol: Protocol) -> redis.asyncio.Redis:
    """A client whose one connection holds the subscriptions: reads never time out."""
    from redis.asyncio.retry import Retry as AsyncRetry

    return redis.asyncio.Redis.from_url(
        url,
        protocol=protocol,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=None,
        socket_keepalive=True,
        health_check_interval=0,
        retry=AsyncRetry(NoBackoff(), 0),
    )
