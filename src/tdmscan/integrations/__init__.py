"""Adapters that put tdmscan in front of other tools: Scrapy, datatrove, WARC archives.

Each adapter is a thin user of :class:`~tdmscan.scanner.Scanner` and the ledger. The optional
frameworks are imported only by their own submodule (``tdmscan.integrations.scrapy`` needs
Scrapy, ``tdmscan.integrations.datatrove`` needs datatrove), never from here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from ..types import Decision, SiteFiles

__all__ = ["ScannerThread", "SiteRecorder", "combine", "split_agents"]

T = TypeVar("T")

_SEVERITY = {"reserved": 3, "unknown": 2, "invalid": 1, "allowed": 0}


def combine(decisions: Sequence[Decision]) -> Decision | None:
    """The one decision that governs a URL across agents: any reservation wins, then unknown.

    Returns the first decision of the most severe verdict (reserved > unknown > invalid >
    allowed), so its reasons explain the outcome; None for an empty list.
    """
    best: Decision | None = None
    for d in decisions:
        if best is None or _SEVERITY.get(d.verdict, 2) > _SEVERITY.get(best.verdict, 2):
            best = d
    return best


def split_agents(value: str | Iterable[str] | None) -> list[str]:
    """Settings accept ``"MyBot, GPTBot"`` as well as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [a.strip() for a in value if a and a.strip()]


class SiteRecorder:
    """Hands each distinct fetch of an origin's files to a ledger writer exactly once.

    Decisions only reference the robots.txt they rest on by hash; the fetch rows and
    snapshots written here are the evidence itself. A re-fetch after the cache TTL is a new
    fetch and is recorded again.
    """

    def __init__(self, writer: Any, max_keys: int = 1_000_000) -> None:
        self.writer = writer
        self._seen: set[tuple[Any, ...]] = set()
        self._max = max_keys

    def add(self, files: SiteFiles | None) -> None:
        if files is None or self.writer is None:
            return
        key = (
            files.origin,
            files.fetched_at,
            *(
                (f.sha256, f.status, f.error) if f is not None else None
                for f in (files.robots, files.tdmrep, files.ai_txt)
            ),
        )
        if key in self._seen:
            return
        if len(self._seen) >= self._max:  # bounded memory on internet-scale runs
            self._seen.clear()
        self._seen.add(key)
        self.writer.add_site(files)


class ScannerThread:
    """A :class:`~tdmscan.scanner.Scanner` kept open on its own event loop in a daemon thread.

    For synchronous callers (datatrove filters, the WARC command): the origin cache lives as
    long as this object, so each origin is fetched once however many batches follow. The
    scanner is entered and left inside one long-lived task, which is what anyio task groups
    and cancel scopes inside it require.
    """

    def __init__(self, **scanner_kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tdmscan-scanner", daemon=True
        )
        self._thread.start()
        self._ready: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._stop: asyncio.Event | None = None
        self._owner = asyncio.run_coroutine_threadsafe(self._hold(scanner_kwargs), self._loop)
        try:
            self.scanner = self._ready.result()
        except BaseException:
            self._shutdown_loop()
            raise
        self._closed = False

    async def _hold(self, kwargs: dict[str, Any]) -> None:
        from ..scanner import Scanner

        self._stop = asyncio.Event()
        try:
            async with Scanner(**kwargs) as scanner:
                self._ready.set_result(scanner)
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
                return
            raise

    def submit(
        self, fn: Callable[..., Awaitable[T]], *args: Any, **kw: Any
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(scanner, *args, **kw)`` on the scanner's loop."""

        async def call() -> T:
            return await fn(self.scanner, *args, **kw)

        return asyncio.run_coroutine_threadsafe(call(), self._loop)

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        """``fn(scanner, *args, **kw)`` on the scanner's loop, waiting for the result."""
        return self.submit(fn, *args, **kw).result()

    def gather(
        self, calls: Sequence[tuple[Callable[..., Awaitable[T]], tuple[Any, ...]]]
    ) -> list[T]:
        """Run many scanner calls concurrently (one batch), results in input order."""

        async def all_of() -> list[T]:
            return list(await asyncio.gather(*(fn(self.scanner, *args) for fn, args in calls)))

        return asyncio.run_coroutine_threadsafe(all_of(), self._loop).result()

    def close(self, timeout: float = 30.0) -> None:
        if self._closed:
            return
        self._closed = True
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        try:
            self._owner.result(timeout)
        finally:
            self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> ScannerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
