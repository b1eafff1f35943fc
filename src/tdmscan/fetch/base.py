"""The Fetcher protocol and the transport-independent part of every fetch.

A transport implements one hop (``_hop``: one request, no redirects, bounded body). This base
adds what must be identical across transports: redirect following, the total deadline, the
concurrency slots, the IP-literal guard, error codes, timing and the wall-clock stamp.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable
from urllib.parse import urljoin, urlsplit

import anyio

from ..types import Fetched, HeaderList
from .guard import env_proxies, ip_literal, is_public_address, proxy_for
from .limits import FetchLimits

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@runtime_checkable
class Fetcher(Protocol):
    """Async HTTP GET that never raises for network trouble (see ``Fetched.error``)."""

    async def get(self, url: str, *, max_bytes: int, stop_at_head: bool = False) -> Fetched: ...

    async def aclose(self) -> None: ...


class HopError(Exception):
    """A hop failed; ``code`` is the ``Fetched.error`` value. ``status``/``headers``/``body``
    are set when the failure came after the response head (a reset mid-body)."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        status: int | None = None,
        headers: HeaderList = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.status = status
        self.headers = headers
        self.body = body


@dataclass(slots=True)
class Hop:
    status: int
    headers: HeaderList
    body: bytes = b""
    truncated: bool = False

    def location(self) -> str | None:
        for k, v in self.headers:
            if k.lower() == "location":
                return v.strip()
        return None


@dataclass(slots=True)
class _Trail:
    """Progress of one ``get``, kept outside the deadline scope so a timeout still reports it."""

    url: str
    current: str
    redirects: list[str] = field(default_factory=list)


class _KeyedLimiter:
    """At most ``limit`` holders per key; keys without holders or waiters are dropped, so the
    table stays as small as the set of origins currently in flight."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, list] = {}  # key -> [semaphore, users]

    async def __call__(self, key: str) -> _KeyedSlot:
        entry = self._slots.get(key)
        if entry is None:
            entry = self._slots[key] = [anyio.Semaphore(self._limit, fast_acquire=True), 0]
        entry[1] += 1
        try:
            await entry[0].acquire()
        except BaseException:
            self._release_user(key, entry)
            raise
        return _KeyedSlot(self, key, entry)

    def _release_user(self, key: str, entry: list) -> None:
        entry[1] -= 1
        if entry[1] == 0 and self._slots.get(key) is entry:
            del self._slots[key]

    def __len__(self) -> int:
        return len(self._slots)


class _KeyedSlot:
    __slots__ = ("_entry", "_key", "_owner")

    def __init__(self, owner: _KeyedLimiter, key: str, entry: list) -> None:
        self._owner, self._key, self._entry = owner, key, entry

    def release(self) -> None:
        self._entry[0].release()
        self._owner._release_user(self._key, self._entry)


def origin_key(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}".lower()


class BaseFetcher:
    """Shared redirect/deadline/guard logic; subclasses implement ``_hop`` and ``_close``."""

    def __init__(
        self,
        *,
        limits: FetchLimits | None = None,
        allow_private: bool = False,
        wall_clock: WallClock | None = None,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.allow_private = allow_private
        self._wall_clock = wall_clock or utc_now
        # fast_acquire: an uncontended acquire need not yield to the loop; every request
        # passes two of these, so the extra loop turns would show in bulk throughput.
        self._global = anyio.Semaphore(self.limits.global_concurrency, fast_acquire=True)
        self._per_origin = _KeyedLimiter(self.limits.per_origin_concurrency)
        #: Proxy variables as of creation, like an httpx client or aiohttp session.
        self.proxies = env_proxies()
        #: HTTP requests sent (each redirect hop counts), for scanner stats and tests.
        self.requests = 0
        self._closed = False

    async def _hop(
        self, url: str, *, max_bytes: int, stop_at_head: bool, proxy: str | None
    ) -> Hop:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _close(self) -> None:  # pragma: no cover - abstract
        return None

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _refused(self, url: str, proxy: str | None) -> bool:
        """IP-literal targets never reach a resolver, so they are checked here."""
        if self.allow_private or proxy is not None:
            return False
        ip = ip_literal(urlsplit(url).hostname)
        return ip is not None and not is_public_address(ip)

    async def get(self, url: str, *, max_bytes: int, stop_at_head: bool = False) -> Fetched:
        fetched_at = self._wall_clock()
        trail = _Trail(url=url, current=url)
        # Origin slot before the global one: a request queued behind a slow origin must not
        # hold a global slot other origins could use.
        origin_slot = await self._per_origin(origin_key(url))
        try:
            async with self._global:
                started = time.perf_counter()
                with anyio.move_on_after(self.limits.total_timeout) as scope:
                    result = await self._follow(trail, max_bytes, stop_at_head)
        finally:
            origin_slot.release()
        elapsed = time.perf_counter() - started
        if scope.cancelled_caught:
            return self._result(trail, fetched_at, elapsed, error="timeout")
        hop, error = result
        return self._result(trail, fetched_at, elapsed, hop=hop, error=error)

    def _result(
        self,
        trail: _Trail,
        fetched_at: datetime,
        elapsed: float,
        *,
        hop: Hop | None = None,
        error: str | None = None,
    ) -> Fetched:
        return Fetched(
            status=hop.status if hop else None,
            headers=hop.headers if hop else (),
            body=hop.body if hop else b"",
            error=error,
            url=trail.url,
            final_url=trail.current,
            redirects=tuple(trail.redirects),
            fetched_at=fetched_at,
            elapsed=elapsed,
            truncated=hop.truncated if hop else False,
        )

    async def _follow(
        self, trail: _Trail, max_bytes: int, stop_at_head: bool
    ) -> tuple[Hop | None, str | None]:
        while True:
            url = trail.current
            proxy = proxy_for(url, self.proxies)
            if self._refused(url, proxy):
                return None, "refused-address"
            self.requests += 1
            try:
                hop = await self._hop(
                    url, max_bytes=max_bytes, stop_at_head=stop_at_head, proxy=proxy
                )
            except HopError as exc:
                if exc.status is not None:
                    return Hop(exc.status, exc.headers, exc.body), exc.code
                return None, exc.code
            location = hop.location() if hop.status in REDIRECT_STATUSES else None
            if not location:
                return hop, None
            if len(trail.redirects) >= self.limits.max_redirects:
                trail.redirects.append(url)
                return Hop(hop.status, hop.headers, b""), "too-many-redirects"
            target = urljoin(url, location).split("#", 1)[0]
            if urlsplit(target).scheme not in ("http", "https"):
                return hop, "bad-redirect"
            trail.redirects.append(url)
            trail.current = target
