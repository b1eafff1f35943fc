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

from ..ledger.recorder import SiteRecorder
from ..types import Decision

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
