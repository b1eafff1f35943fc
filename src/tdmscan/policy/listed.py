"""Websites on an infringing-site list are never ingestible (Code of Practice measure 1.2).

Not a rights reservation but a lawful-access exclusion: it decides in every mode and for every
purpose, and its evidence names the list, its version and the entry's source.
"""

from __future__ import annotations

from ..signals.exclusions import default_exclusions
from ._core import Collector, Context

REASON = "access:listed-infringing"


def apply(c: Collector, ctx: Context) -> None:
    site = ctx.site
    lists = site.exclusions if site is not None and site.exclusions is not None else None
    if lists is None:
        lists = default_exclusions()
    for lst, entry in lists.match(ctx.parsed.host):
        c.reserve(
            lst.reason or REASON,
            "exclusion-list",
            f"list {lst.name} {lst.version}",
            f"{entry.domain}: {entry.source}" + (f" ({entry.date})" if entry.date else ""),
            source_url=entry.url,
        )
