"""Fetch layer: async HTTP with deadlines, byte caps, redirects, address guard, origin cache.

``make_fetcher("aiohttp")`` is the bulk default; ``make_fetcher("httpx", transport=...)`` takes
an injected httpx transport (tests use ``httpx.MockTransport``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .base import BaseFetcher, Fetcher, utc_now
from .cache import DEFAULT_TTL, MAX_STALE_LIMIT, CacheStats, OriginCache, keep_stale_robots
from .guard import AddressRefused, is_public_address, proxy_for
from .limits import DEFAULT_USER_AGENT, ROBOTS_MIN_BYTES, FetchLimits
from .politeness import CrawlDelayGate
from .site import AI_TXT_PATH, ROBOTS_PATH, SITE_PATHS, TDMREP_PATH, fetch_site_files

if TYPE_CHECKING:
    import httpx

    from .aiohttp_fetcher import AiohttpFetcher
    from .httpx_fetcher import HttpxFetcher

__all__ = [
    "AI_TXT_PATH",
    "DEFAULT_TTL",
    "DEFAULT_USER_AGENT",
    "MAX_STALE_LIMIT",
    "ROBOTS_MIN_BYTES",
    "ROBOTS_PATH",
    "SITE_PATHS",
    "TDMREP_PATH",
    "AddressRefused",
    "AiohttpFetcher",
    "BaseFetcher",
    "CacheStats",
    "CrawlDelayGate",
    "FetchLimits",
    "Fetcher",
    "HttpxFetcher",
    "OriginCache",
    "fetch_site_files",
    "is_public_address",
    "keep_stale_robots",
    "make_fetcher",
    "proxy_for",
    "utc_now",
]


def make_fetcher(
    kind: Literal["aiohttp", "httpx"] = "aiohttp",
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: FetchLimits | None = None,
    allow_private: bool = False,
    wall_clock: Any = None,
) -> BaseFetcher:
    """A fetcher of the given kind; an httpx ``transport`` implies the httpx fetcher."""
    if transport is not None or kind == "httpx":
        from .httpx_fetcher import HttpxFetcher

        return HttpxFetcher(
            transport=transport, limits=limits, allow_private=allow_private, wall_clock=wall_clock
        )
    if kind == "aiohttp":
        from .aiohttp_fetcher import AiohttpFetcher

        return AiohttpFetcher(limits=limits, allow_private=allow_private, wall_clock=wall_clock)
    raise ValueError(f"unknown fetcher kind {kind!r} (aiohttp or httpx)")


def __getattr__(name: str) -> Any:
    # The two client libraries load only when a fetcher of that kind is wanted.
    if name == "HttpxFetcher":
        from .httpx_fetcher import HttpxFetcher

        return HttpxFetcher
    if name == "AiohttpFetcher":
        from .aiohttp_fetcher import AiohttpFetcher

        return AiohttpFetcher
    raise AttributeError(name)
