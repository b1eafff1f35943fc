"""A referring page's noai / noimageai and licence, carried over to the media it embeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..signals import headers, licences
from ..urls import strip_credentials
from ._core import IMAGE_EXT, TRAINING_PURPOSES, Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals


_MEDIA_PREFIXES = ("image/", "video/", "audio/")


def _inherited(
    c: Collector,
    referrer: PageSignals | None,
    page: PageSignals | None,
    agent: str,
    path: str,
    purpose: str,
) -> None:
    """Inherited reservations: a referring page's noai/noimageai speak for the media it embeds."""
    if referrer is None:
        return
    ref_url = strip_credentials(referrer.fetched.final_url or referrer.fetched.url or "(unknown)")
    loc = f"inherited from referring page {ref_url}"
    if page is not None:
        ct = (page.fetched.content_type or "").lower()
        is_image = page.is_image
        is_media = is_image or ct.startswith(_MEDIA_PREFIXES)
    else:
        is_image = is_media = path.split("?", 1)[0].lower().endswith(IMAGE_EXT)
    if is_media and purpose in TRAINING_PURPOSES:
        sources = [("header", referrer.robots_header)]
        if referrer.head is not None:
            sources.append(("meta", referrer.head.robots))
        for kind, directives in sources:
            inherited = headers.inherited_media_directives(directives, agent)
            for d in sorted(inherited):
                if d == "noimageai" and not is_image:
                    continue
                c.reserve(
                    f"{kind}:{d}",
                    "robots-" + kind,
                    loc,
                    ", ".join(sorted(directives.for_agent(agent))),
                    strength="inferred",
                    source_url=ref_url,
                )
    # The page's licence is recorded at the page's scope, not the media's.
    cands = [(ll.url, ll.source) for ll in referrer.link_licences if not ll.rsl]
    if referrer.head is not None:
        cands += [(ll.url, ll.source) for ll in referrer.head.licences if not ll.rsl]
    for url, source in cands:
        lic = licences.licence_from_url(url)
        if lic is not None:
            c.note(
                "licence",
                f"referring page {ref_url}: {source}",
                url,
                reason=f"licence:{lic.spdx}",
                strength="licence",
                source_url=ref_url,
            )


def apply(c: Collector, ctx: Context) -> None:
    _inherited(c, ctx.referrer, ctx.page, ctx.agent, ctx.path, ctx.purpose)
