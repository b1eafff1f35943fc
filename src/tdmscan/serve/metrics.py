"""Prometheus metrics of the service, on a registry of its own (one per app, so tests and
several apps in one process never share counters).

Counters the Scanner already keeps (checks, origin cache hits and misses, stale copies,
requests) are read from ``Scanner.stats`` at scrape time instead of being counted twice;
fetch outcomes and latencies come from a thin wrapper around the fetcher.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..types import Decision, Fetched

# The *_created series double the exposition for a timestamp nobody graphs; this process is
# the server, so the process-wide switch is ours to set.
disable_created_metrics()

#: Seconds. A warm check answers in well under a millisecond; a cold one waits for the
#: origin's files (bounded by the fetch deadline).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


def fetch_outcome(f: Fetched) -> str:
    """A small, closed label set: the error code when no usable response came, else 2xx..5xx."""
    if f.error is not None and f.status is None:
        return f.error
    if f.status is None:
        return "none"
    if f.error is not None:  # a response head arrived, then the fetch failed (too-large, reset)
        return f.error
    return f"{f.status // 100}xx"


class Metrics:
    """Everything ``GET /metrics`` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "tdmscan_serve_requests",
            "HTTP requests answered, by route and status code.",
            ["route", "code"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "tdmscan_serve_request_seconds",
            "Time to answer an HTTP request (a streamed batch: until its last line).",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.checks = Counter(
            "tdmscan_serve_checks",
            "Decisions returned, by route and verdict (one per URL and agent).",
            ["route", "verdict"],
            registry=r,
        )
        self.reasons = Counter(
            "tdmscan_serve_reasons",
            "Reason codes of the decisions returned.",
            ["reason"],
            registry=r,
        )
        self.check_seconds = Histogram(
            "tdmscan_serve_check_seconds",
            "Time to decide one URL (cache lookup, origin fetch when cold, policy).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fetches = Counter(
            "tdmscan_serve_fetches",
            "Fetches of origin files, RSL licences and pages, by outcome "
            "(2xx..5xx, or the error: timeout, dns, connect, refused-address, too-large ...).",
            ["outcome"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "tdmscan_serve_fetch_seconds",
            "Duration of one fetch (redirects included), from when it held its slots.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "tdmscan_serve_checks_in_flight",
            "Checks started and not yet answered.",
            registry=r,
        )
        self.errors = Counter(
            "tdmscan_serve_client_errors",
            "Requests refused with a 4xx, by error code.",
            ["error"],
            registry=r,
        )

    def observe_decisions(self, route: str, decisions: Sequence[Decision]) -> None:
        for d in decisions:
            self.checks.labels(route, d.verdict).inc()
            for reason in d.reasons:
                self.reasons.labels(reason).inc()

    def add_source(self, read: Callable[[], dict[str, Any]]) -> None:
        """Expose ``read()``'s scanner and ledger counters (see :class:`_StatsCollector`)."""
        self.registry.register(_StatsCollector(read))


class _StatsCollector(Collector):
    """Scanner and ledger writer counters, read when scraped."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self._read = read

    def describe(self) -> list[Any]:
        return []  # unchecked collector: names are only known from collect()

    def collect(self) -> Iterator[Any]:
        s = self._read()
        cache = CounterMetricFamily(
            "tdmscan_serve_origin_cache",
            "Origin cache lookups: hit (fresh entry, or joined a load in flight) or miss.",
            labels=["result"],
        )
        cache.add_metric(["hit"], s.get("cache_hits", 0))
        cache.add_metric(["miss"], s.get("cache_misses", 0))
        yield cache
        for name, key, text in (
            ("tdmscan_serve_origins_fetched", "origins_fetched", "Origin loads (three files)."),
            (
                "tdmscan_serve_stale_copies",
                "stale_copies",
                "robots.txt unreachable, an earlier copy kept (RFC 9309 2.4).",
            ),
            ("tdmscan_serve_http_requests", "requests", "HTTP requests sent, redirect hops too."),
            (
                "tdmscan_serve_ledger_decisions_written",
                "decisions_written",
                "Decision rows flushed to the ledger by this run.",
            ),
        ):
            c = CounterMetricFamily(name, text)
            c.add_metric([], s.get(key, 0))
            yield c
        g = GaugeMetricFamily(
            "tdmscan_serve_ledger_buffered",
            "Decision rows received and not yet flushed (what a SIGKILL now would lose).",
        )
        g.add_metric([], s.get("buffered", 0))
        yield g


class InstrumentedFetcher:
    """A :class:`~tdmscan.fetch.Fetcher` that counts outcomes and times every fetch."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    @property
    def requests(self) -> int:
        return int(getattr(self._inner, "requests", 0))

    async def get(self, url: str, *, max_bytes: int, stop_at_head: bool = False) -> Fetched:
        started = time.perf_counter()
        f = await self._inner.get(url, max_bytes=max_bytes, stop_at_head=stop_at_head)
        elapsed = f.elapsed if f.elapsed is not None else time.perf_counter() - started
        self._metrics.fetch_seconds.observe(elapsed)
        self._metrics.fetches.labels(fetch_outcome(f)).inc()
        return f

    async def aclose(self) -> None:
        await self._inner.aclose()
