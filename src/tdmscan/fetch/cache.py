"""Per-origin cache: TTL, single-flight, bounded LRU, and the RFC 9309 stale-copy rule.

Memory stays flat for millions of origins because the table is bounded by origin count; an
evicted origin is simply fetched again when next seen. Eviction also drops the previous copy
that the stale-copy rule would have used, so an origin that is both evicted and then
unreachable gets ``unknown`` rather than its last good robots.txt. That trade is deliberate:
keeping old copies for every origin ever seen is exactly the unbounded memory the LRU avoids.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import anyio

from ..types import SiteFiles

V = TypeVar("V")

DEFAULT_TTL = 24 * 3600.0
#: RFC 9309 section 2.3.1.4 gives 30 days as the example of "a reasonably long period".
MAX_STALE_LIMIT = 30 * 24 * 3600.0


@dataclass(slots=True)
class CacheStats:
    hits: int = 0  # served from a fresh entry
    coalesced: int = 0  # waited on another task's in-flight load (single-flight)
    misses: int = 0  # ran the loader
    evictions: int = 0
    expired: int = 0


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires: float


class _Flight(Generic[V]):
    __slots__ = ("done", "failed", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: V | None = None
        self.failed = True


class OriginCache(Generic[V]):
    """``await cache.get(key, loader)``: one loader call per key per TTL, however many callers.

    ``loader(previous)`` receives the expired value for the key, if one is still held, so a
    caller can carry an old copy forward (see :func:`keep_stale_robots`). A loader that raises
    or is cancelled caches nothing; callers that were waiting on it retry, and one of them
    becomes the next loader.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_size: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        ttl_for: Callable[[V], float] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.ttl = ttl
        # Per-value lifetime: a failed fetch should be retried in minutes, not kept a day.
        self._ttl_for = ttl_for
        self.max_size = max_size
        self._clock = clock
        self._data: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._inflight: dict[str, _Flight[V]] = {}
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: str) -> bool:
        return self.peek(key) is not None

    def peek(self, key: str) -> V | None:
        """The fresh value for ``key`` without loading or touching the LRU order."""
        entry = self._data.get(key)
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.value

    def get_fresh(self, key: str) -> V | None:
        """The fresh value (counted as a hit, LRU refreshed), or None. Never awaits."""
        entry = self._data.get(key)
        if entry is not None and entry.expires > self._clock():
            self._data.move_to_end(key)
            self.stats.hits += 1
            return entry.value
        return None

    def invalidate(self, key: str) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    async def get(self, key: str, loader: Callable[[V | None], Awaitable[V]]) -> V:
        while True:
            entry = self._data.get(key)
            if entry is not None and entry.expires > self._clock():
                self._data.move_to_end(key)
                self.stats.hits += 1
                return entry.value
            flight = self._inflight.get(key)
            if flight is not None:
                await flight.done.wait()
                if not flight.failed:
                    self.stats.coalesced += 1
                    return flight.value  # type: ignore[return-value]
                continue
            return await self._load(key, entry, loader)

    async def _load(
        self, key: str, entry: _Entry[V] | None, loader: Callable[[V | None], Awaitable[V]]
    ) -> V:
        flight: _Flight[V] = _Flight()
        self._inflight[key] = flight
        self.stats.misses += 1
        if entry is not None:
            self.stats.expired += 1
        try:
            value = await loader(entry.value if entry is not None else None)
            flight.value = value
            flight.failed = False
            self._store(key, value)
            return value
        finally:
            del self._inflight[key]
            flight.done.set()

    def _store(self, key: str, value: V) -> None:
        ttl = self.ttl if self._ttl_for is None else min(self.ttl, self._ttl_for(value))
        self._data[key] = _Entry(value, self._clock() + ttl)
        self._data.move_to_end(key)
        while len(self._data) > self.max_size:
            self._data.popitem(last=False)
            self.stats.evictions += 1


def keep_stale_robots(
    new: SiteFiles,
    old: SiteFiles | None,
    *,
    now: datetime,
    stale_limit: float = MAX_STALE_LIMIT,
) -> SiteFiles:
    """RFC 9309 section 2.3.1.4: when robots.txt is unreachable now, keep the last good copy.

    The old copy must have been a 2xx fetched (originally, not re-stamped) within
    ``stale_limit`` seconds; it comes back marked ``stale=True`` and the policy records branch
    ``stale-copy``. Otherwise ``new`` is returned unchanged and the policy says ``unknown``.
    """
    stale_limit = min(stale_limit, MAX_STALE_LIMIT)
    if new.robots is None or not new.robots.unreachable or old is None:
        return new
    prev = old.robots
    if prev is None or not prev.ok or prev.fetched_at is None:
        return new
    if (now - prev.fetched_at).total_seconds() > stale_limit:
        return new
    robots = prev if prev.stale else dataclasses.replace(prev, stale=True)
    return dataclasses.replace(new, robots=robots)
