"""sock8 over Redis: any number of gateway processes share fan-out, presence and history.

    from sock8.redis import RedisBroker, RedisPresence

    app = create_app(s8, broker=RedisBroker(url), presence=RedisPresence(url))
    s8.publisher = RedisBroker(url)          # an app publishing straight to Redis

or `sock8 gateway --redis redis://host:6379/0` (or `SOCK8_REDIS_URL`). Needs the `sock8[redis]`
extra (redis-py). `RedisPresence` belongs to the gateway and needs `sock8[gateway]` too; it is
imported on first use, so that an app that only publishes does not need the gateway's packages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import redis.asyncio  # noqa: F401 - fail here with the install hint, not deep in an import
except ModuleNotFoundError as exc:  # pragma: no cover - the test environment has redis
    if exc.name not in ("redis", "redis.asyncio"):
        raise
    raise ImportError("sock8.redis needs redis-py: pip install 'sock8[redis]'") from None

from sock8.redis.broker import RedisBroker, RedisSubscription

if TYPE_CHECKING:
    from sock8.redis.presence import RedisPresence
    from sock8.redis.revocations import RedisRevocations

__all__ = ["RedisBroker", "RedisPresence", "RedisRevocations", "RedisSubscription"]


def __getattr__(name: str) -> Any:
    if name == "RedisPresence":
        from sock8.redis.presence import RedisPresence

        return RedisPresence
    if name == "RedisRevocations":
        from sock8.redis.revocations import RedisRevocations

        return RedisRevocations
    raise AttributeError(f"module 'sock8.redis' has no attribute {name!r}")
