"""`GatewayMetrics`: the gateway's Prometheus metrics, and `GET /metrics`.

Each gateway has its own `CollectorRegistry` (many gateways may live in one process, as in the
tests), with the process, platform and garbage-collector collectors beside sock8's own. Events are
counted as they happen (a counter's increment takes a lock, about 0.3 µs), except deliveries, the
fan-out's path: the hub adds each message's number of subscribers to a plain int, handed to the
metric when scraped. What is a state rather than an event (the broker's state, Redis
reconnections, presence memberships) is read when scraped.

With `PROMETHEUS_MULTIPROC_DIR` set before prometheus-client is first imported (`sock8 gateway
--workers N` sets it), every process writes its values to files in that directory, and a scrape,
whichever process answers it, adds up every process's (prometheus-client's multiprocess mode);
each process then also reads its states and hands its deliveries over once a second, since
another process answers most scrapes. The names are documented in the README ("Metrics").
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sock8._http import NO_STORE, bearer_token, unauthorized
from sock8.integrations.starlette import response

__all__ = ["BROKER_STATES", "Flushes", "GatewayMetrics", "MetricsHost", "metrics_routes"]

logger = logging.getLogger("sock8.gateway")

BROKER_STATES = ("memory", "ok", "unavailable")
"""The values of `sock8_broker_state`'s `state` label (what `GET /health` reports)."""

SAMPLE_INTERVAL = 1.0
"""Seconds between two readings of the states, in multiprocess mode."""

# Token verification takes about a microsecond; the buckets reach far enough to show a stall.
_VERIFY_BUCKETS = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2, 0.1)


def multiprocess() -> bool:
    """Whether prometheus-client writes its values to `PROMETHEUS_MULTIPROC_DIR` (decided when
    it was first imported)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class GatewayMetrics:
    """The Prometheus metrics of one gateway (names in the README, "Metrics").

    Arguments:
        registry: where they are registered; a new `CollectorRegistry` when `None`, with the
            process, platform and GC collectors (not in multiprocess mode, where a scrape reads
            the files instead).

    The attributes are prometheus-client metrics; `GatewayStats` counts into them.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.multiprocess = multiprocess()
        """Whether the values are shared with the other processes through files."""
        if registry is None:
            registry = CollectorRegistry()
            if not self.multiprocess:
                ProcessCollector(registry=registry)
                PlatformCollector(registry=registry)
                GCCollector(registry=registry)
        self.registry = registry
        """Where the metrics are registered."""
        self.connections = Gauge(
            "sock8_connections",
            "Open WebSocket connections, authenticated or not.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.connects = Counter(
            "sock8_connects",
            "WebSocket connections by how their authentication ended: ok, unauthorized (reason: "
            "the refusal), bad_frame, auth_timeout, origin.",
            ["outcome", "reason"],
            registry=registry,
        )
        self.deliveries = Counter(
            "sock8_deliveries",
            "Messages offered to subscribers: each message counts once per subscriber.",
            registry=registry,
        )
        self.publishes = Counter(
            "sock8_publishes",
            "POST /publish requests by outcome: ok, unauthorized, bad_request, too_large, "
            "unavailable, internal.",
            ["outcome"],
            registry=registry,
        )
        self.slow_consumers = Counter(
            "sock8_slow_consumers",
            "Connections closed as slow consumers (4008).",
            registry=registry,
        )
        self.rate_limited = Counter(
            "sock8_rate_limited", "Client requests refused by a rate limit.", registry=registry
        )
        self.refreshes = Counter(
            "sock8_refreshes",
            "Token refreshes by outcome: ok, refused.",
            ["outcome"],
            registry=registry,
        )
        self.revocations = Counter(
            "sock8_revocations",
            "Revocations this node took (its own and other nodes').",
            registry=registry,
        )
        self.revoked_connections = Counter(
            "sock8_revoked_connections",
            "Connections closed by a revocation (4001 revoked).",
            registry=registry,
        )
        self.presence_members = Gauge(
            "sock8_presence_members",
            "Presence memberships (one per connection and channel) held by this node.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.history_reads = Counter(
            "sock8_history_reads",
            "GET /history requests by outcome: ok, refused.",
            ["outcome"],
            registry=registry,
        )
        self.broker_state = Gauge(
            "sock8_broker_state",
            "1 for the broker's state (memory, ok, unavailable), 0 for the others; with "
            "several processes, how many are in each.",
            ["state"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.redis_resubscribes = Counter(
            "sock8_redis_resubscribes",
            "Redis pub/sub reconnections, each resubscribing every channel of the node.",
            registry=registry,
        )
        self.redis_probe_restarts = Counter(
            "sock8_redis_probe_restarts",
            "Redis pub/sub connections restarted because the probe did not come back.",
            registry=registry,
        )
        self.token_verify_seconds = Histogram(
            "sock8_token_verify_seconds",
            "Time to verify a client token (connect, refresh, history).",
            buckets=_VERIFY_BUCKETS,
            registry=registry,
        )
        # Counters mirrored from the broker's own: what they held at the last reading.
        self._seen: dict[str, int] = {}
        self._sampler: asyncio.Task[None] | None = None

    def sample(self, host: MetricsHost) -> None:
        """Read the states (the broker's, its Redis counters, the presence memberships) and
        the counts kept outside the metrics (deliveries)."""
        host.stats.flush()
        state = host.broker_status
        for each in BROKER_STATES:
            self.broker_state.labels(each).set(1 if each == state else 0)
        subscriber = getattr(host.broker, "subscriber", None)
        self._mirror(
            "resubscribes", getattr(subscriber, "reconnects", None), self.redis_resubscribes
        )
        self._mirror(
            "probe_restarts", getattr(subscriber, "probe_restarts", None), self.redis_probe_restarts
        )
        self.presence_members.set(host.presence_members())

    def _mirror(self, name: str, value: object, counter: Counter) -> None:
        if not isinstance(value, int):
            return
        seen = self._seen.get(name, 0)
        # A new subscriber (the broker restarted) counts from zero again.
        counter.inc(value - seen if value >= seen else value)
        self._seen[name] = value

    def start(self, host: MetricsHost) -> None:
        """In multiprocess mode, read the states every `SAMPLE_INTERVAL` on the running loop
        (the gateway's startup calls it)."""
        if self.multiprocess and self._sampler is None:
            self._sampler = asyncio.get_running_loop().create_task(self._sample_every(host))

    async def stop(self) -> None:
        """Stop reading the states."""
        task, self._sampler = self._sampler, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sample_every(self, host: MetricsHost) -> None:
        while True:
            try:
                self.sample(host)
            except Exception:
                logger.exception("reading the metrics' states failed")
            await asyncio.sleep(SAMPLE_INTERVAL)

    def exposition(self, host: MetricsHost) -> bytes:
        """The metrics in Prometheus' text format: this gateway's, or in multiprocess mode
        every process's."""
        self.sample(host)
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


class Flushes(Protocol):
    """Counts kept outside the metrics until `flush` (`GatewayStats`)."""

    def flush(self) -> None:
        """Hand them to the metrics."""


class MetricsHost(Protocol):
    """What `GET /metrics` needs of its gateway (`Gateway` is one)."""

    @property
    def metrics(self) -> GatewayMetrics | None:
        """The metrics, or `None` when they are off."""

    @property
    def metrics_token(self) -> str | None:
        """The bearer token `/metrics` requires, if any."""

    @property
    def stats(self) -> Flushes:
        """The counters (`GatewayStats`); their `flush` hands the deliveries to the metrics."""

    @property
    def broker(self) -> object:
        """The broker; a Redis one has `subscriber.reconnects` (and `probe_restarts`)."""

    @property
    def broker_status(self) -> str:
        """`"memory"`, `"ok"` or `"unavailable"`."""

    def presence_members(self) -> int:
        """Presence memberships held by this node's connections."""


def metrics_routes(host: MetricsHost) -> list[Route]:
    """`GET /metrics` when `host.metrics` is on, behind `host.metrics_token` when it is set."""
    metrics = host.metrics
    if metrics is None:
        return []
    token = host.metrics_token

    async def scrape(request: Request) -> Response:
        if token is not None:
            given = bearer_token(request.headers.get("authorization"))
            # Compared in constant time: the token guards the endpoint.
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                return response(unauthorized("Bearer"))
        return Response(
            metrics.exposition(host), headers=dict(NO_STORE), media_type=CONTENT_TYPE_LATEST
        )

    # On the loop, as the states it reads change there; the text takes about a millisecond.
    return [Route("/metrics", scrape, methods=["GET"])]
