"""RSL 1.0: licence documents named by robots.txt, Link headers, links or inline scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..signals import rsl
from ._core import Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals
    from .site import AgentView, SiteSignals


def _rsl(
    c: Collector,
    site: SiteSignals | None,
    page: PageSignals | None,
    view: AgentView | None,
    path: str,
    purpose: str,
) -> None:
    docs: list[tuple[rsl.RslDocument, str, str | None]] = []
    pointers: list[tuple[str, str]] = []
    if view is not None:
        for u in view.rsl_urls:
            pointers.append((u, "robots.txt License"))
    if page is not None:
        for ll in page.link_licences:
            if ll.rsl:
                pointers.append((ll.url, "header Link rel=license"))
        if page.head is not None:
            for ll in page.head.licences:
                if ll.rsl:
                    pointers.append((ll.url, "html link rel=license"))
            for i, script in enumerate(page.head.rsl_scripts):
                docs.append((rsl.parse_rsl(script), f"html script[{i}] application/rsl+xml", None))
    fetched_docs = site.rsl_documents if site is not None else {}
    for u, loc in pointers:
        f = fetched_docs.get(u)
        if f is None:
            c.note("rsl", loc, u, reason="rsl:not-fetched", source_url=u)
        elif not f.ok:
            c.reserve("rsl:unobtainable", "rsl", loc, u, strength="inferred", source_url=u)
        else:
            docs.append((rsl.parse_rsl(f.body), loc, u))
    for doc, loc, src in docs:
        if not doc.ok:
            c.note(
                "rsl",
                loc,
                "; ".join(doc.problems)[:200],
                "unknown",
                reason="rsl:unparsable",
                source_url=src,
            )
            continue
        r = doc.evaluate(path, purpose)
        if r.status == "prohibited":
            c.reserve("rsl:prohibited", "rsl", loc, r.raw, source_url=src)
        elif r.status in ("licence-required", "permitted-paid"):
            c.reserve(f"rsl:{r.status}", "rsl", loc, r.raw, source_url=src)
        elif r.status.startswith("permitted"):
            c.note(
                "rsl",
                loc,
                r.raw,
                "allowed",
                reason=f"rsl:{r.status}",
                source_url=src,
                strength="explicit",
            )


def apply(c: Collector, ctx: Context) -> None:
    _rsl(c, ctx.site, ctx.page, ctx.view, ctx.path, ctx.purpose)
