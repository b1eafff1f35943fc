"""noai / noimageai / noarchive in meta robots and X-Robots-Tag."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._core import TRAINING_PURPOSES, Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals


def _noai(c: Collector, page: PageSignals | None, agent: str, purpose: str) -> None:
    if page is None or purpose not in TRAINING_PURPOSES:
        return
    sources = [("header", page.robots_header, "header X-Robots-Tag")]
    if page.head is not None:
        sources.append(("meta", page.head.robots, "meta name=robots"))
    for kind, directives, loc in sources:
        d = directives.for_agent(agent)
        if not d:
            continue
        raw = ", ".join(sorted(d))
        src = page.fetched.url
        if "noai" in d:
            c.reserve(f"{kind}:noai", "robots-" + kind, loc, raw, source_url=src)
        if "noimageai" in d:
            # On an image the directive is explicit; on an HTML page it speaks for the images
            # of the page, which the page's own text may well be about.
            c.reserve(
                f"{kind}:noimageai",
                "robots-" + kind,
                loc,
                raw,
                strength="explicit" if page.is_image else "inferred",
                source_url=src,
            )
        if "noarchive" in d:
            c.reserve(
                f"{kind}:noarchive", "robots-" + kind, loc, raw, strength="inferred", source_url=src
            )
    if page.head is not None and page.head.ignored_body_meta:
        c.note(
            "robots-meta",
            "body",
            "; ".join(page.head.ignored_body_meta)[:300],
            reason="meta:in-body-ignored",
        )


def apply(c: Collector, ctx: Context) -> None:
    _noai(c, ctx.page, ctx.agent, ctx.purpose)
