"""Prometheus metrics under Go ghproxy's names and labels, plus ghproxy's own.

Go's client library exports a counter under its bare name (`ghcache_responses`), while prometheus-client would add
`_total`. Dashboards built for Go ghproxy query the bare name, so those counters are exported by `ExactCounter`
under exactly that name (type `unknown`, which PromQL's rate() and increase() read like a counter).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from cachetools import LRUCache
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ghproxy.headers import RateLimit

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Go ghproxy's buckets for github_request_duration (pkg/github/ghmetrics).
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, float("inf"))
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, float("inf"))
AGE_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 7 * 24 * 3600, float("inf"))


# Go's client exports no `_created` series; neither do we (dashboards and cardinality stay as they were).
disable_created_metrics()  # type: ignore[no-untyped-call]


class ExactCounter(Collector):
    """A counter exported under its exact name, as Go's client library does."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry):
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self.name, self.documentation, "unknown")
        with self._lock:
            items = list(self._values.items())
        for labels, value in items:
            metric.add_sample(self.name, dict(zip(self.labelnames, labels, strict=True)), value)
        yield metric


class Metrics:
    """Every metric ghproxy exports, on a registry of its own (no process globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.responses = ExactCounter(
            "ghcache_responses",
            "How many cache responses of each cache response mode there are.",
            ("mode", "path", "user_agent", "token_hash"),
            r,
        )
        self.partitions = ExactCounter("ghcache_cache_partitions", "Which cache partitions exist.", ("token_hash",), r)
        self.entry_age = Histogram(
            "ghcache_cache_entry_age_seconds",
            "The age of cache entries by API path (REVALIDATED responses).",
            ("token_hash", "path", "user_agent"),
            buckets=AGE_BUCKETS,
            registry=r,
        )
        self.token_usage = Gauge(
            "github_token_usage",
            "How many GitHub token requests are remaining for the current hour.",
            ("token_hash", "api_version", "ratelimit_resource"),
            registry=r,
        )
        self.token_reset = Gauge(
            "github_token_reset",
            "Nanoseconds until the GitHub token's rate limit resets (as Go ghproxy reports it).",
            ("token_hash", "api_version", "ratelimit_resource"),
            registry=r,
        )
        self.request_duration = Histogram(
            "github_request_duration",
            "GitHub request durations by API path, status and user agent, in seconds.",
            ("token_hash", "path", "status", "user_agent"),
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.request_timeouts = Histogram(
            "github_request_timeouts",
            "GitHub requests that timed out, by API path and user agent, with the time waited.",
            ("token_hash", "path", "user_agent"),
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "ghproxy_overhead_seconds",
            "Time a request spent in ghproxy's handler, not counting the wait for upstream's answer headers.",
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.wait_duration = Histogram(
            "github_request_wait_duration_seconds",
            "Time requests waited in ghproxy's throttle before going to GitHub.",
            ("token_hash", "request_type", "api"),
            buckets=(0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, float("inf")),
            registry=r,
        )
        self.pending_outbound = Gauge(
            "pending_outbound_requests", "Requests waiting in the throttle for their turn.", registry=r
        )
        self.throttle_refusals = Counter(
            "ghproxy_throttle_refusals",
            "Requests answered by the throttle without going to GitHub, by reason (max-delay, concurrency, "
            "secondary: GitHub's secondary limit is in force, primary: the token's rate limit is exhausted).",
            ("token_hash", "reason"),
            registry=r,
        )
        self.stale_served = Counter(
            "ghproxy_stale_responses",
            "Stored GETs served without revalidation because GitHub blocks the token for now.",
            ("token_hash", "reason"),
            registry=r,
        )
        self.immutable_served = Counter(
            "ghproxy_immutable_responses",
            "Stored answers for SHA-addressed content served without asking GitHub.",
            ("token_hash",),
            registry=r,
        )
        self.app_tokens = Counter(
            "ghproxy_app_tokens",
            "App installation token requests by result: minted upstream, shared (an already minted token handed out), "
            "refused (GitHub did not confirm the caller's JWT).",
            ["result"],
            registry=r,
        )
        self.concurrent_outbound = Gauge(
            "concurrent_outbound_requests", "Requests to GitHub in flight now.", registry=r
        )
        self.upstream_errors = ExactCounter(
            "ghproxy_upstream_errors_total",
            "Upstream requests that failed without an HTTP answer, by kind (refused, timeout, broken).",
            ("kind",),
            r,
        )
        self.refusals = ExactCounter(
            "ghproxy_refused_requests_total",
            "Client requests refused by ghproxy itself, by status.",
            ("status",),
            r,
        )
        self.tier_operations = Counter(
            "ghproxy_cache_tier_operations",
            "Cache tier operations by tier, op (get, set, delete) and result (hit, miss, ok, error, skipped).",
            ("tier", "op", "result"),
            registry=r,
        )
        self.tier_seconds = Histogram(
            "ghproxy_cache_tier_duration_seconds",
            "Cache tier operation latency by tier and op.",
            ("tier", "op"),
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.tier_available = Gauge(
            "ghproxy_cache_tier_available",
            "1 while a cache tier is in use, 0 while its circuit breaker skips it.",
            ("tier",),
            registry=r,
        )
        self.memory_bytes = Gauge("ghproxy_cache_memory_bytes", "Bytes held by the memory tier.", registry=r)
        self.memory_entries = Gauge("ghproxy_cache_memory_entries", "Entries held by the memory tier.", registry=r)
        # Bounded, unlike Go ghproxy's partition map: a forgotten partition is counted again if it comes back.
        self._seen_partitions: LRUCache[str, bool] = LRUCache(maxsize=100_000)

    def saw_partition(self, token_hash: str) -> None:
        if token_hash not in self._seen_partitions:
            self._seen_partitions[token_hash] = True
            self.partitions.inc(token_hash)

    def rate_limit(self, token_hash: str, api_version: str, rl: RateLimit, now: float) -> None:
        self.token_usage.labels(token_hash, api_version, rl.resource).set(rl.remaining)
        self.token_reset.labels(token_hash, api_version, rl.resource).set(max(0.0, rl.reset - now) * 1e9)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def user_agent_label(user_agent: str | None) -> str:
    """Go ghproxy's label: the User-Agent up to its first `/`."""
    if not user_agent:
        return ""
    return user_agent.split("/", 1)[0][:64]
