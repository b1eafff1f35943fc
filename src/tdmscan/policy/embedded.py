"""Metadata embedded in the resource: IPTC/PLUS DataMining in XMP, CAWG/C2PA assertions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..signals import c2pa, embedded
from ._core import Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals


def _iptc(c: Collector, page: PageSignals | None, purpose: str) -> None:
    """IPTC / PLUS ``plus:DataMining`` in the body's XMP (IPTC Photo Metadata Standard)."""
    if page is None or page.embedded is None:
        return
    emb = page.embedded
    src = page.fetched.url
    loc = "XMP plus:DataMining"
    for raw in emb.data_mining_raw:
        code = embedded.dmi_code(raw)
        if code is None:
            continue
        how = embedded.dmi_applies(code, purpose)
        if how in ("explicit", "inferred"):
            c.reserve("iptc:dmi-prohibited", "iptc", loc, raw, strength=how, source_url=src)
        elif how == "allowed":
            c.note(
                "iptc",
                loc,
                raw,
                "allowed",
                reason="iptc:dmi-allowed",
                strength="explicit",
                source_url=src,
            )
        else:
            c.note("iptc", loc, raw, reason=f"iptc:{code}", source_url=src)
    for text in emb.other_constraints:
        c.note("iptc", "XMP plus:OtherConstraints", text[:300], reason="iptc:other-constraints")
    for problem in emb.problems:
        c.note("iptc", "XMP", problem[:300], "unknown", reason="xmp:problem", source_url=src)
    if page.epub is not None and page.epub.problems:
        c.note(
            "tdmrep",
            f"EPUB {page.epub.opf_path or 'package'}",
            "; ".join(page.epub.problems)[:300],
            "unknown",
            reason="epub:problem",
            source_url=src,
        )


def _c2pa(c: Collector, res: c2pa.C2paResult | None, src: str | None, purpose: str) -> None:
    """CAWG / C2PA training-and-data-mining assertion of the active manifest."""
    if res is None:
        return
    if not res.ok:
        c.note(
            "c2pa",
            "C2PA manifest store",
            "; ".join(res.problems)[:300],
            "unknown",
            reason="c2pa:unparsable",
            source_url=src,
        )
        return
    sig = f"signature {res.signature}" + (f", issuer {res.issuer}" if res.issuer else "")
    for a, e in res.entries_for(purpose):
        loc = f"C2PA manifest {a.manifest} assertion {a.label} {e.key}"
        raw = f"{e.key}: use={e.raw_use}"
        if e.constraint_info:
            raw += f", constraint_info={e.constraint_info}"
        raw += f" ({sig})"
        if e.not_allowed:
            c.reserve("c2pa:not-allowed", "c2pa", loc, raw, source_url=src)
        elif e.use == "allowed":
            c.note("c2pa", loc, raw, "allowed", reason="c2pa:allowed", strength="explicit")
        else:
            c.note("c2pa", loc, raw, "unknown", reason="c2pa:unrecognised-use", source_url=src)
    if res.active and res.signature in ("untrusted", "invalid"):
        c.note(
            "c2pa",
            f"C2PA manifest {res.active_manifest} signature",
            ", ".join(res.validation_codes)[:300] or res.signature,
            "unknown",
            reason=f"c2pa:signature-{res.signature}",
            source_url=src,
        )
    for a in res.ingredients:
        entries = ", ".join(f"{e.key}={e.raw_use}" for e in a.entries)[:300]
        c.note(
            "c2pa",
            f"C2PA ingredient manifest {a.manifest} assertion {a.label}",
            ("ingredient-only: " if res.ingredient_only else "ingredient: ") + entries,
            reason="c2pa:ingredient-only" if res.ingredient_only else "c2pa:ingredient",
            source_url=src,
        )


def apply_iptc(c: Collector, ctx: Context) -> None:
    _iptc(c, ctx.page, ctx.purpose)


def apply_c2pa(c: Collector, ctx: Context) -> None:
    page = ctx.page
    _c2pa(c, ctx.c2pa, page.fetched.url if page is not None else ctx.parsed.url, ctx.purpose)
