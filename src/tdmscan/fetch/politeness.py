"""Crawl-delay for deep-mode page fetches (per-origin connection limits live in the fetcher).

Crawl-delay is not in RFC 9309, but Bing and Yandex honour it and site owners ask for it
(a non-standard line RFC 9309 does not define); it is honoured up to a cap so one hostile
value cannot stall a scan. Each origin keeps only the earliest time its next page fetch may
start, in a bounded table.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import anyio


class CrawlDelayGate:
    def __init__(
        self,
        *,
        max_delay: float = 10.0,
        max_origins: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.max_delay = max_delay
        self._next: OrderedDict[str, float] = OrderedDict()
        self._max_origins = max_origins
        self._clock = clock
        self._sleep = sleep or anyio.sleep
        #: Number of times a site's Crawl-delay exceeded the cap and was clamped.
        self.clamped = 0

    def reserve(self, origin: str, delay: float | None) -> float:
        """Book the next slot for ``origin``; returns how long the caller must wait.

        Booking (rather than sleeping, then checking) keeps concurrent callers in order without
        a lock: each one pushes the next slot further out before it sleeps.
        """
        if not delay or delay <= 0:
            return 0.0
        if delay > self.max_delay:
            delay = self.max_delay
            self.clamped += 1
        now = self._clock()
        start = max(now, self._next.get(origin, now))
        self._next[origin] = start + delay
        self._next.move_to_end(origin)
        while len(self._next) > self._max_origins:
            self._next.popitem(last=False)
        return start - now

    async def wait(self, origin: str, delay: float | None) -> None:
        pause = self.reserve(origin, delay)
        if pause > 0:
            await self._sleep(pause)  # type: ignore[misc]
