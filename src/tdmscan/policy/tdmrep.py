"""W3C TDMRep: tdmrep.json (first match), header, meta and embedded metadata, layered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..signals import tdmrep
from ._core import TRAINING_PURPOSES, Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals
    from .site import SiteSignals


def _tdmrep(
    c: Collector, site: SiteSignals | None, page: PageSignals | None, path: str, purpose: str
) -> tuple[int | None, str | None, str | None, str | None]:
    # Strict mode reads the spec literally: lenient forms ("1" as a string, ".*" locations,
    # conflicting header values) count as unset.
    strict = c.mode == "strict"
    file_value = None
    sha = None
    src = site.files.tdmrep.url if site and site.files.tdmrep else None
    if site is not None and site.tdmrep is not None and site.tdmrep.ok:
        sha = site.files.tdmrep.sha256 if site.files.tdmrep else None
        m = site.tdmrep.match(path, strict=strict)
        file_value = m.value
        if m.shadowed and m.rule is not None and m.longest is not None:
            # The spec says first match; a robots-style longest match would differ here.
            c.note(
                "tdmrep",
                f"/.well-known/tdmrep.json [{m.rule.index}]",
                f"first match {m.rule.location!r} shadows longer rule "
                f"[{m.longest.index}] {m.longest.location!r}",
                reason="tdmrep:first-match-shadows-longer",
                source_url=src,
                sha256=sha,
            )
    header_value = page.tdm_header if page is not None else None
    meta_value = page.head.tdm if page is not None and page.head is not None else None
    embedded_value, embedded_loc = _embedded_tdm(page)
    if (
        file_value is None
        and header_value is None
        and meta_value is None
        and embedded_value is None
    ):
        return None, None, None, None
    res = tdmrep.layer(file_value, header_value, meta_value, embedded=embedded_value, strict=strict)
    # Two header lines that disagree ("1, 0") are a protocol error: unset in strict mode, but
    # the rightsholder did say "1" somewhere, so conservative mode honours it.
    conflicting = [
        v
        for v in (header_value, meta_value)
        if v is not None and {"0", "1"} <= {s.strip() for s in v.values}
    ]
    locator = {
        "file": "/.well-known/tdmrep.json",
        "header": "header tdm-reservation",
        "meta": "meta name=tdm-reservation",
        "embedded": embedded_loc,
    }.get(res.source or "", "tdmrep")
    applies = purpose in TRAINING_PURPOSES
    if res.reservation == 1 and applies:
        c.reserve(
            "tdmrep:reserved",
            "tdmrep",
            locator,
            "tdm-reservation: 1",
            source_url=src if res.source == "file" else (page.fetched.url if page else None),
            sha256=sha if res.source == "file" else None,
        )
    elif res.reservation == 0:
        c.note(
            "tdmrep",
            locator,
            "tdm-reservation: 0",
            "allowed",
            reason="tdmrep:not-reserved",
            strength="explicit",
        )
    if conflicting and res.reservation != 1 and applies:
        c.reserve(
            "tdmrep:reserved",
            "tdmrep",
            "header tdm-reservation (conflicting values)",
            ", ".join(conflicting[0].values),
            strength="inferred",
        )
    return res.reservation, res.source, res.policy, sha


def _embedded_tdm(page: PageSignals | None) -> tuple[tdmrep.TdmValue | None, str]:
    """TDMRep in the resource itself (W3C CG Final Report, 10 May 2024): EPUB OPF meta, else
    the XMP packet."""
    if page is None:
        return None, "embedded"
    if page.epub is not None and page.epub.tdm is not None:
        return page.epub.tdm, f"EPUB OPF {page.epub.opf_path} meta tdm:reservation"
    if page.embedded is not None and page.embedded.tdm is not None:
        return page.embedded.tdm, "XMP tdm:reservation"
    return None, "embedded"


def apply(c: Collector, ctx: Context) -> None:
    ctx.tdm = _tdmrep(c, ctx.site, ctx.page, ctx.path, ctx.purpose)
