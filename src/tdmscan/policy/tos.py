"""Natural-language reservations in the origin's terms of use.

Recital 18 of Directive (EU) 2019/790 names a website's terms and conditions as a way to
reserve mining; courts disagree on whether plain-language clauses are machine-readable enough
(LG Hamburg 310 O 227/23 leaned towards yes, the appeal reportedly doubted it). Both codes are
therefore *inferred*: decisive in conservative mode, evidence only in strict mode. A scraping
prohibition that does not name mining or AI is a contract term rather than a copyright
reservation, recorded apart (``tos:scraping-prohibited``) so a policy can weigh it differently.
Only the training purposes are concerned: a terms page says nothing about search indexing that
robots.txt does not say better.
"""

from __future__ import annotations

from ._core import TRAINING_PURPOSES, Collector, Context


def apply(c: Collector, ctx: Context) -> None:
    site = ctx.site
    if site is None or site.files.terms is None:
        return
    f = site.files.terms
    src = f.final_url or f.url
    page = site.terms
    if page is None:
        status = f"status {f.status}" if f.status else (f.error or "no response")
        c.note("tos", "terms page", f"not read: {status}", source_url=src, reason="tos:not-read")
        return
    if ctx.purpose not in TRAINING_PURPOSES:
        return
    found = False
    for clause in page.clauses:
        found = True
        c.reserve(
            clause.reason,
            "tos",
            f"terms page sentence {clause.index + 1}",
            clause.text,
            strength="inferred",
            source_url=src,
            sha256=clause.sha256,
        )
    if not found:
        c.note(
            "tos",
            "terms page",
            f"{page.sentences} sentences, no reservation clause",
            "allowed",
            reason="tos:none-found",
            source_url=src,
            sha256=f.sha256,
        )
