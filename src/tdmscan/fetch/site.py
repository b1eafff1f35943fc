"""Fetch the three origin-level files (RFC 9309 robots.txt, TDMRep, ai.txt) concurrently."""

from __future__ import annotations

import anyio

from ..types import Fetched, SiteFiles
from .base import Fetcher, WallClock, utc_now
from .limits import FetchLimits

ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"
AI_TXT_PATH = "/ai.txt"
SITE_PATHS = (ROBOTS_PATH, TDMREP_PATH, AI_TXT_PATH)


async def fetch_site_files(
    fetcher: Fetcher,
    origin: str,
    *,
    limits: FetchLimits | None = None,
    wall_clock: WallClock | None = None,
) -> SiteFiles:
    """GET robots.txt, tdmrep.json and ai.txt of ``origin`` (``scheme://host[:port]``).

    The fetcher already follows redirects (rules still belong to ``origin``), caps bodies and
    never raises for network trouble, so every status is returned as fetched: the RFC 9309
    mapping (2xx parse, 4xx allow, 429/5xx/network unreachable, >5 redirects unavailable) and
    "anything but 2xx means not implemented" for the other two live in the policy, which reads
    ``Fetched.ok`` / ``Fetched.unreachable``.
    """
    limits = limits or getattr(fetcher, "limits", None) or FetchLimits()
    origin = origin.rstrip("/")
    started = (wall_clock or utc_now)()
    results: dict[str, Fetched] = {}
    caps = {
        ROBOTS_PATH: limits.robots_max_bytes,
        TDMREP_PATH: limits.file_max_bytes,
        AI_TXT_PATH: limits.file_max_bytes,
    }

    async def one(path: str) -> None:
        results[path] = await fetcher.get(origin + path, max_bytes=caps[path])

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, TDMREP_PATH)
        tg.start_soon(one, AI_TXT_PATH)
        await one(ROBOTS_PATH)  # in this task: one task fewer per origin
    return SiteFiles(
        origin=origin,
        robots=results[ROBOTS_PATH],
        tdmrep=results[TDMREP_PATH],
        ai_txt=results[AI_TXT_PATH],
        fetched_at=started,
    )
